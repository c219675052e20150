"""A few simulated hours under load and faults (fixed seed): this app loses nothing and duplicates nothing,
where the naive approach ("every N minutes, the last N minutes by TimeGenerated, one email per row") does.

The same code as `make simulate` (sandbox/simulation/), smaller: two hours of activity plus a drain, two app
instances scanning every 5 and 4 minutes, Azure Monitor's log alert delivering (and re-delivering) to either
instance's webhook, ACS answering 429 and 500 for a while, its status reads failing for a while, one instance
dying after ACS accepted each email it sends for a while, the table service down for a while. Runs its own
Azurite and sandbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.simulation.__main__ import report
from sandbox.simulation.run import simulate
from sandbox.simulation.world import DayPlan

PLAN = DayPlan(hours=2, seed=7, pipelines=1800, fail_rate=0.08, deletions=12, drift_episodes=24, drift_spikes=12)


@pytest.fixture(scope="module")
def result():
    return simulate(PLAN, cadence=(5, 4), drain=timedelta(minutes=40))


def test_the_app_loses_nothing_and_duplicates_nothing(result):
    print("\n".join(report(result)))
    app = result.scores[0]
    kinds = {incident.kind for incident in result.day.incidents}
    assert kinds == {"run-failure", "compute-change", "drift", "stuck-run", "missed-schedule"}
    assert app.should >= 10
    assert (app.lost, app.duplicated, app.unmatched) == (0, 0, 0), (app.lost_keys, app.duplicated_keys)
    assert app.alerted == app.should
    # nothing pending, dead or silenced at the end, but follow-ups with no news (silenced by design) and webhook
    # alerts replaced by the pipelines they are about
    assert set(result.outbox) <= {"sent", "sent (follow-up)", "silenced (follow-up)", "replaced"}


def test_the_naive_approach_cannot_see_stuck_runs_or_missed_schedules(result):
    app, *naive = result.scores
    for kind in ("stuck-run", "missed-schedule"):
        should, lost, duplicated = app.by_kind[kind]
        assert should >= 2 and (lost, duplicated) == (0, 0)
        for score in naive:
            assert score.by_kind[kind] == (should, should, 0)  # every one of them lost


def test_the_faults_really_happened_and_failed_calls_were_caught_up(result):
    outages = [fault for fault in result.faults if fault.what == "tables down"]
    assert result.failed_calls, "the table outage made no call fail"
    assert all(any(f.start <= when < f.end for f in outages) for _, _, when, _ in result.failed_calls)
    assert result.table_requests_refused > 0
    assert result.email_faults_answered > 0


def test_faults_after_acs_accepted_happened_and_duplicated_nothing(result):
    assert result.status_faults_answered > 0  # status polls failed after ACS accepted sends
    assert result.deaths, "instance A never died after ACS accepted an email"
    deaths = [fault for fault in result.faults if fault.what == "instance dies"]
    assert all(instance == "A" and any(f.active(when) for f in deaths) for instance, _, when in result.deaths)
    assert result.scores[0].duplicated == 0


def test_the_webhook_took_retried_deliveries_while_the_scans_ran(result):
    webhook = result.webhook
    assert webhook["alerts"] >= 5
    assert webhook["deliveries"] > webhook["alerts"]  # repeats, to both instances
    assert webhook["answered 200"] >= webhook["alerts"]
    # 503 only in table outages; no answer only when the instance died
    assert set(webhook) <= {"alerts", "deliveries", "answered 200", "answered 503", "no answer (instance died)"}


def test_the_naive_approach_loses_or_duplicates(result):
    one, two = result.scores[1], result.scores[2]
    assert one.lost + one.duplicated > 0
    assert two.lost + two.duplicated > 0
    assert two.emails > result.scores[0].emails


def test_with_run_history_every_pipeline_email_names_the_step_that_failed_first(result):
    found = result.root_causes
    assert found is not None and found.named >= 10
    assert (found.right, found.wrong, found.updates) == (found.named, 0, 0)


def test_the_queue_path_survived_a_consumer_killed_mid_send(result):
    # Sending happens in the instances' queue consumers; instance A's was killed after ACS accepted an email at
    # least once, its message showed again, and nothing was duplicated (test_the_app_loses_nothing_...).
    assert result.queue["ran"] > 0
    assert any(call == "queue consumers" for _, call, _ in result.deaths), result.deaths
    assert result.queue["died"] > 0


def test_azure_monitors_own_rules_are_scored_with_the_delay_from_queryable(result):
    log_rule, metric_rule, both = result.scores[3:6]
    assert log_rule.approach.startswith("Azure Monitor: log search alert")
    assert log_rule.lost > 0  # rows ingested after their 5-minute window was evaluated are never seen
    assert both.duplicated > 0  # the two rules each email the same failure
    assert metric_rule.unmatched == log_rule.unmatched == 0
    app = result.scores[0]
    # every incident with a decisive Log Analytics row has its delay from queryable (stuck runs and missed
    # schedules have none: no row says they happened)
    assert len(app.queryable_delays) == sum(i.queryable_at is not None for i in result.day.incidents) > 0
