"""Missed schedules: ARM schedule and job bodies (the team's wire samples and variations) -> verdicts, notices."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.detectors.schedule_plan import State, plan_schedule
from shared.detectors.schedules import KIND, check_schedule
from shared.rules import RulesError
from shared.rules.schedules import ScheduleOverride, ScheduleRules
from shared.rules_yaml import parse_rules

DATA = Path(__file__).resolve().parents[2] / "data" / "aml-schedules"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # the samples' "now"
VECTORS = json.loads((DATA / "fire-time-vectors.json").read_text())
RULES = ScheduleRules()  # what a team that sets nothing gets


def _body(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())["response"]["body"]


SCHEDULES = {
    s["name"]: s for page in ("arm-schedules-list.json", "arm-schedules-list-page2.json") for s in _body(page)["value"]
}
NIGHTLY_JOBS = _body("arm-jobs-list-by-schedule.json")["value"]  # the 2026-11-25 run is missing
STABLE_JOBS = _body("arm-jobs-list-stable.json")["value"]


def schedule(name: str = "nightly-train", **changes: Any) -> dict[str, Any]:
    """A sample schedule body; `trigger`, `properties` and `systemData` changes are merged in."""
    body = copy.deepcopy(SCHEDULES[name])
    body["properties"]["trigger"].update(changes.pop("trigger", {}))
    body["systemData"].update(changes.pop("systemData", {}))
    body["properties"].update(changes)
    return body


def job(
    display_name: str,
    created: datetime,
    *,
    experiment: str = "nightly-train",
    status: str = "Completed",
    name: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name or f"job_{display_name}_{created:%H%M%S}",
        "properties": {
            "displayName": display_name,
            "experimentName": experiment,
            "status": status,
            "jobType": "Pipeline",
        },
        "systemData": {"createdAt": created.isoformat().replace("+00:00", "Z")},
    }


def check(body, jobs=(), rules=RULES, now=NOW, **kwargs):
    return check_schedule(plan_schedule(body, rules, now), jobs, rules, now, **kwargs)


def outcomes(report) -> dict[str, str]:
    return {f"{v.at:%m-%dT%H:%M}": v.outcome.value for v in report.verdicts}


def test_the_sample_workspace_alerts_once_for_the_missing_nightly_run_with_the_facts_an_email_needs():
    rules = ScheduleRules(lookback=timedelta(days=4, hours=9))  # the vectors' window
    report = check(SCHEDULES["nightly-train"], NIGHTLY_JOBS, rules, jobs_filtered_by_schedule=True)
    assert outcomes(report) == {
        "11-24T01:00": "ran",
        "11-25T01:00": "missed",
        "11-26T01:00": "ran",
        "11-27T01:00": "ran",
        "11-28T01:00": "ran",
    }
    [notice] = report.notices
    assert notice.key == (
        f"{KIND}:/subscriptions/00000000-1111-2222-3333-444444444444/resourcegroups/rg-mlops/"
        "providers/microsoft.machinelearningservices/workspaces/mlw-prod/schedules/nightly-train:"
        "20261125T010000Z"
    )
    facts = notice.payload
    assert facts["notice"] == "missed" and facts["schedule"] == "nightly-train"
    assert (facts["expected_local"], facts["expected_utc"]) == (
        "2026-11-25T02:00:00+01:00",
        "2026-11-25T01:00:00+00:00",
    )
    assert facts["time_zone"] == "W. Europe Standard Time" and facts["trigger"] == "cron 0 2 * * *"
    assert facts["state"] == "active" and facts["grace_minutes"] == 30
    assert facts["last_job"]["display_name"] == "nightly-train-20261128T010000Z"
    assert notice.labels == {"kind": KIND, "workspace": "mlw-prod", "experiment": "nightly-train"}
    assert notice.due_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


def test_later_ticks_make_the_same_key_so_the_outbox_claims_it_once():
    keys = [
        {
            n.key
            for n in check(
                SCHEDULES["nightly-train"],
                NIGHTLY_JOBS,
                ScheduleRules(lookback=timedelta(days=5)),
                now=NOW + timedelta(minutes=10 * tick),
                jobs_filtered_by_schedule=True,
            ).notices
        }
        for tick in range(12)
    ]
    assert all(k == keys[0] for k in keys) and len(keys[0]) == 1


@pytest.mark.parametrize("name", sorted(VECTORS["schedules"]))
def test_plans_of_the_sample_schedules_expect_the_vectors_fire_times(name):
    rules = ScheduleRules(lookback=timedelta(days=4, hours=9))
    plan = plan_schedule(SCHEDULES[name], rules, NOW)
    expected = [datetime.fromisoformat(t) for t in VECTORS["schedules"][name]["expected_fire_times_utc"]]
    assert list(plan.fire_times) == expected


def test_a_not_yet_due_fire_time_is_not_missed():
    two_days = ScheduleRules(lookback=timedelta(days=2))
    report = check(SCHEDULES["nightly-train"], [], two_days, now=datetime(2026, 11, 28, 1, 20, tzinfo=UTC))
    assert outcomes(report)["11-28T01:00"] == "not-due"
    assert [n.payload["expected_utc"] for n in report.notices] == ["2026-11-27T01:00:00+00:00"]


def test_stable_listing_counts_the_schedules_jobs_only():
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    manual = job("fraud_training_pipeline", at + timedelta(minutes=1), experiment="fraud-training")
    assert outcomes(check(schedule(), [manual]))["11-28T01:00"] == "missed"
    renamed = job("retrain with new features", at + timedelta(minutes=1))  # same experiment, display name edited
    assert outcomes(check(schedule(), [renamed]))["11-28T01:00"] == "ran"
    assert outcomes(check(schedule(), [manual], jobs_filtered_by_schedule=True))["11-28T01:00"] == "ran"


def test_a_job_named_for_a_fire_time_counts_for_it_late_or_not_and_for_no_other():
    two_days = ScheduleRules(lookback=timedelta(days=2))
    at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    late = job("nightly-train-20261127T010000Z", at + timedelta(hours=3))
    report = check(schedule(), [late], two_days)
    assert outcomes(report)["11-27T01:00"] == "late"
    assert "2026-11-27T01:00:00+00:00" not in {n.payload["expected_utc"] for n in report.notices}
    early_for_next = job("nightly-train-20261128T010000Z", at + timedelta(minutes=2))  # stamped for the 28th
    assert outcomes(check(schedule(), [early_for_next], two_days)) == {"11-27T01:00": "missed", "11-28T01:00": "ran"}
    unstamped_late = job("nightly-train-rerun", at + timedelta(hours=3))
    assert outcomes(check(schedule(), [unstamped_late], two_days))["11-27T01:00"] == "missed"


def test_one_job_satisfies_one_fire_time_even_when_windows_overlap():
    body = schedule("hourly-refresh", trigger={"interval": 1})
    at = datetime(2026, 11, 28, 6, 15, tzinfo=UTC)
    rules = ScheduleRules(grace=timedelta(hours=2), lookback=timedelta(hours=4))
    report = check(body, [job("hourly-refresh-x", at + timedelta(minutes=70), experiment="hourly-refresh")], rules)
    assert sorted(outcomes(report).values()).count("ran") == 1


def test_a_deadline_flags_a_job_that_has_not_completed_by_then():
    rules = ScheduleRules(deadline=timedelta(hours=6))
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    running = job("nightly-train-20261128T010000Z", at + timedelta(seconds=7), status="Running")
    report = check(schedule(), [running], rules, now=at + timedelta(hours=6, minutes=5))
    assert outcomes(report)["11-28T01:00"] == "overdue"
    [overdue] = [n for n in report.notices if n.payload["notice"] == "overdue"]
    assert overdue.key.endswith(":20261128T010000Z:overdue") and overdue.payload["job"]["status"] == "Running"
    assert outcomes(check(schedule(), [running], rules, now=at + timedelta(hours=5)))["11-28T01:00"] == "ran"
    done = job("nightly-train-20261128T010000Z", at + timedelta(seconds=7), status="Completed")
    assert outcomes(check(schedule(), [done], rules, now=at + timedelta(hours=7)))["11-28T01:00"] == "ran"


def test_a_schedule_disabled_on_purpose_is_reported_once_not_per_fire_time():
    disabled_at = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    body = schedule(isEnabled=False, systemData={"lastModifiedAt": disabled_at.isoformat(), "lastModifiedBy": "Ann"})
    ticks = [check(body, NIGHTLY_JOBS, now=disabled_at + timedelta(minutes=10 * tick)) for tick in range(1, 6 * 30)]
    keys = {n.key for report in ticks for n in report.notices}
    assert len(keys) == 1 and next(iter(keys)).endswith(":disabled:2026-11-27T16:00:00+00:00")
    first = ticks[0].notices[0].payload
    assert (first["notice"], first["state"], first["changed_by"]) == ("disabled", "disabled", "Ann")
    assert first["last_job"]["display_name"] == "nightly-train-20261128T010000Z"
    assert all(not report.verdicts for report in ticks)  # no fire time is expected while disabled
    assert not ticks[-1].notices  # past the lookback: nothing more, so retention cannot bring it back
    enabled_again = schedule(systemData={"lastModifiedAt": "2026-12-01T08:00:00Z"})
    disabled_again = schedule(isEnabled=False, systemData={"lastModifiedAt": "2026-12-03T08:00:00Z"})
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert not [n for n in check(enabled_again, [], now=now).notices if n.payload["notice"] == "disabled"]
    assert check(disabled_again, [], now=now).notices[0].key.endswith(":disabled:2026-12-03T08:00:00+00:00")


def test_an_ended_schedule_is_reported_once_and_its_last_fire_times_still_checked():
    body = schedule(trigger={"endTime": "2026-11-28T05:00:00"})  # Berlin: 2026-11-28T04:00Z
    report = check(body, [])
    assert report.plan.state is State.ENDED
    ended = [n for n in report.notices if n.payload["notice"] == "ended"]
    assert len(ended) == 1 and ended[0].key.endswith(":ended:2026-11-28T04:00:00+00:00")
    assert outcomes(report) == {"11-28T01:00": "missed"}  # before the end: still expected
    assert check(body, [], now=NOW + timedelta(days=1)).plan.fire_times == ()
    assert check(SCHEDULES["q3-backfill"], []).notices == ()  # ended in September: not news


def test_state_changes_are_not_reported_when_the_team_turns_that_off():
    body = schedule(isEnabled=False, systemData={"lastModifiedAt": "2026-11-28T08:00:00Z"})
    assert check(body, [], ScheduleRules(notify_state_changes=False)).notices == ()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trigger": {"timeZone": "Mars Standard Time"}}, "unknown time zone"),
        ({"trigger": {"expression": "0 2 * * 5L"}}, "not a day of the week"),
        ({"trigger": {"triggerType": "Sometimes"}}, "trigger"),
    ],
)
def test_a_schedule_that_cannot_be_evaluated_is_reported_once_per_version(changes, reason):
    body = schedule(**changes, systemData={"lastModifiedAt": "2026-11-28T08:00:00Z"})
    reports = [check(body, [], now=NOW + timedelta(hours=h)) for h in (0, 1, 30)]
    assert all(r.plan.state is State.UNEVALUABLE for r in reports)
    assert {n.key for r in reports for n in r.notices} == {reports[0].notices[0].key}
    assert reason in reports[0].notices[0].payload["reason"]


def test_schedules_that_are_not_watched_make_nothing():
    assert check(SCHEDULES["drift-monitor"], []).plan.state is State.NOT_WATCHED  # CreateMonitor
    assert check(SCHEDULES["drift-monitor"], [], ScheduleRules(actions=("CreateMonitor",))).plan.state is State.ACTIVE
    off = ScheduleRules(overrides=(ScheduleOverride(schedule="nightly-*", watch=False),))
    assert check(schedule(), [], off).notices == ()
    assert check(schedule(), [], ScheduleRules(workspaces=("mlw-dev",))).notices == ()
    creating = schedule(provisioningState="Updating")
    assert check(creating, []).plan.state is State.PROVISIONING and check(creating, []).notices == ()
    failed = schedule(provisioningState="Failed", systemData={"lastModifiedAt": "2026-11-28T08:00:00Z"})
    assert [n.payload["notice"] for n in check(failed, []).notices] == ["provisioning-failed"]


def test_an_edit_starts_the_schedule_afresh():
    three_days = ScheduleRules(lookback=timedelta(days=3))
    assert list(outcomes(check(schedule(), [], three_days))) == ["11-26T01:00", "11-27T01:00", "11-28T01:00"]
    edited = schedule(systemData={"lastModifiedAt": "2026-11-27T12:00:00Z"})
    assert list(outcomes(check(edited, [], three_days))) == ["11-28T01:00"]
    assert check(schedule(trigger={"startTime": "2026-12-01T00:00:00"}), []).plan.state is State.NOT_STARTED


def test_near_a_dst_change_a_job_an_hour_off_still_counts_and_a_miss_waits_an_hour_longer():
    spring = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:30 Berlin does not exist: cronsim says 03:00 CEST
    body = schedule(trigger={"expression": "30 2 * * *"})
    aml_fired_at_0130z = job("nightly-train-20260329T013000Z", spring + timedelta(minutes=30, seconds=4))
    report = check(body, [aml_fired_at_0130z], now=spring + timedelta(hours=3))
    assert outcomes(report)["03-29T01:00"] == "ran"
    assert outcomes(check(body, [], now=spring + timedelta(minutes=45)))["03-29T01:00"] == "not-due"
    assert outcomes(check(body, [], now=spring + timedelta(minutes=95)))["03-29T01:00"] == "missed"


def test_fire_times_older_than_a_capped_job_listing_are_unknown_not_missed():
    report = check(
        schedule(),
        [],
        ScheduleRules(lookback=timedelta(days=2)),
        jobs_listed_since=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )
    assert outcomes(report) == {"11-27T01:00": "unknown", "11-28T01:00": "missed"}
    assert [n.payload["expected_utc"] for n in report.notices] == ["2026-11-28T01:00:00+00:00"]


def test_per_schedule_overrides_change_grace_and_deadline():
    rules = ScheduleRules(
        deadline=timedelta(hours=8),
        overrides=(
            ScheduleOverride(schedule="NIGHTLY-*", grace=timedelta(hours=2)),
            ScheduleOverride(workspace="mlw-*", deadline=None),
        ),
    )
    nightly = rules.limits_for("mlw-prod", "nightly-train")
    assert (nightly.grace, nightly.deadline) == (timedelta(hours=2), timedelta(hours=8))
    assert rules.limits_for("mlw-prod", "other").deadline is None  # `deadline: null` in an override: none
    assert (
        outcomes(check(schedule(), [], rules, now=datetime(2026, 11, 28, 2, 30, tzinfo=UTC)))["11-28T01:00"]
        == "not-due"
    )


def _rules_error(text: str) -> str:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "team/rules.yaml")
    return str(error.value)


def test_the_schedules_section_is_checked_with_file_and_line():
    message = _rules_error("storm_limit: 3\nschedules:\n  grace: PT2H\n  deadline: PT1H\n")
    assert (
        "team/rules.yaml:2: schedules: Value error, the deadline (PT1H) must be longer than the grace (PT2H)" in message
    )
    message = _rules_error("schedules:\n  lookback: PT3H\n  overrides:\n    - {schedule: x, grace: PT2H}\n")
    assert "overrides[0]: a wait of PT2H needs a lookback of at least PT4H" in message
    message = _rules_error("schedules:\n  overrides:\n    - {grace: PT1H}\n    - {schedule: y, grase: PT1H}\n")
    assert "team/rules.yaml:3: schedules.overrides[0]: Value error, give workspace or schedule" in message
    assert "team/rules.yaml:4: schedules.overrides[1].grase: unknown key 'grase': did you mean 'grace'?" in message
    assert "schedules.lookback: Input should be less than or equal to 7 days" in _rules_error(
        "schedules:\n  lookback: P10D\n"
    )


def test_the_sample_schedules_disabled_or_ended_long_ago_stay_quiet():
    for name, state in (("legacy-retrain", State.DISABLED), ("q3-backfill", State.ENDED)):
        report = check(SCHEDULES[name], STABLE_JOBS)
        assert (report.plan.state, report.verdicts, report.notices) == (state, (), ())


def test_a_recurrence_needs_a_start_or_a_creation_time_a_cron_does_not():
    body = schedule("hourly-refresh", trigger={"startTime": None})
    del body["systemData"]
    assert check(body, []).plan.state is State.UNEVALUABLE
    cron = schedule(trigger={"startTime": None})
    del cron["systemData"]
    assert check(cron, []).plan.fire_times == (datetime(2026, 11, 28, 1, 0, tzinfo=UTC),)
