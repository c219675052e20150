"""Issue 4 end to end: compute changes, metric rules, routing, silences and the storm guard, with the app's real
SDK clients against Azurite and the sandbox (Metrics answered in the real getBatch format)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.scenarios import activity_rows, six_step_pipeline, status_row
from shared.outbox import Status

from .conftest import RECIPIENT

ROOT = Path(__file__).resolve().parents[2]
DRIFT_RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod"
    "/providers/microsoft.insights/components/appi-churn"
)
DELETE = "Microsoft.MachineLearningServices/workspaces/computes/delete"


def _subjects(sandbox):
    return [email["content"]["subject"] for email in sandbox.emails]


def test_a_compute_deletion_is_emailed_once_despite_start_and_final_records_and_overlap(sandbox, make_app, rules):
    rules(f"compute_changes:\n  operations: [{DELETE}]\n")
    app = make_app()
    app.scan_compute_changes(sandbox.now)
    deleted_at = sandbox.now - timedelta(minutes=2)
    sandbox.add_rows("AzureActivity", activity_rows("ws-prod", "gpu-cluster", DELETE, "alice@contoso.com",
                                                    deleted_at, "corr-1"))
    # A pipeline running on that cluster fails a minute after the deletion.
    failing = six_step_pipeline("ws-prod", "after", deleted_at - timedelta(minutes=14))
    sandbox.add_rows("AmlRunStatusChangedEvent", failing["AmlRunStatusChangedEvent"])
    for _ in range(4):  # overlapping windows re-read both records
        sandbox.advance(timedelta(minutes=5))
        app.scan_compute_changes(sandbox.now)
    assert _subjects(sandbox) == [
        "[AML] computes/delete succeeded: gpu-cluster in ws-prod by alice@contoso.com"
    ]
    text = sandbox.emails[0]["content"]["plainText"]
    assert "Who:        alice@contoso.com (from 203.0.113.7)" in text
    assert "PIPELINES FAILED AFTERWARDS: 1 pipeline run(s)" in text


def test_operations_not_in_the_rules_are_ignored(sandbox, make_app, rules):
    rules(f"compute_changes:\n  operations: [{DELETE}]\n")
    write = "Microsoft.MachineLearningServices/workspaces/computes/write"
    sandbox.add_rows("AzureActivity", activity_rows("ws-prod", "cpu", write, "bob@contoso.com",
                                                    sandbox.now - timedelta(minutes=1), "corr-2"))
    make_app().scan_compute_changes(sandbox.now)
    assert sandbox.emails == []


def _drift_rules(consecutive=3):
    return f"""metric_rules:
  - name: churn-drift
    description: Drift score of the churn model's input features
    resource_ids: [{DRIFT_RESOURCE}]
    namespace: azure.applicationinsights
    metric: churn_drift_score
    aggregation: Maximum
    filter: feature eq '*'
    operator: GreaterThan
    threshold: 0.3
    interval: PT5M
    consecutive: {consecutive}
    repeat_every: null
"""


def _publish(sandbox, values, feature="age"):
    """The pipeline step publishes one drift value per 5 minutes, up to the sandbox clock: one per interval of the
    rule's 5-minute grid (the metric scan reads buckets on that grid), the last in the latest finished one."""
    now = sandbox.now
    grid = now - (now - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(minutes=5)
    start = grid - timedelta(minutes=5 * len(values))
    points = [(start + timedelta(minutes=5 * i, seconds=30), v) for i, v in enumerate(values)]
    sandbox.add_metric_series(DRIFT_RESOURCE, "azure.applicationinsights", "churn_drift_score", points,
                              {"feature": feature})


def test_drift_breaching_recovering_and_breaching_again_fires_resolves_fires(sandbox, make_app, rules):
    rules(_drift_rules())
    sandbox.advance(timedelta(minutes=60))
    values = [0.1, 0.5, 0.6, 0.7, 0.1, 0.1, 0.2, 0.8, 0.9, 0.9, 0.9]
    app = make_app()
    sent = []
    # The timer ticks every 5 minutes while the values arrive.
    start = sandbox.now
    _publish(sandbox, values)
    sandbox.set_clock(start - timedelta(minutes=5 * len(values)))
    for _ in range(len(values) + 1):
        sandbox.advance(timedelta(minutes=5))
        before = len(sandbox.emails)
        app.scan_metrics(sandbox.now)
        sent += [e["content"]["subject"].split(":")[0] for e in sandbox.emails[before:]]
    assert sent == ["[AML] FIRING", "[AML] RESOLVED", "[AML] FIRING"]
    firing = sandbox.emails[0]["content"]["plainText"]
    assert "FIRING: churn-drift" in firing
    assert "Series:     feature=age" in firing
    assert "0.7" in firing and "<- breaching" in firing


def test_a_flapping_metric_below_the_consecutive_limit_sends_nothing(sandbox, make_app, rules):
    rules(_drift_rules())
    sandbox.advance(timedelta(hours=2))
    _publish(sandbox, [0.5, 0.6, 0.1, 0.5, 0.6, 0.1, 0.7, 0.1, 0.9, 0.9, 0.1, 0.4])
    app = make_app()
    report = app.scan_metrics(sandbox.now)
    assert report.rules[0].series == 1
    assert sandbox.emails == []


def test_two_instances_evaluating_the_same_points_send_one_firing_notice(sandbox, make_app, rules):
    rules(_drift_rules(consecutive=2))
    sandbox.advance(timedelta(hours=1))
    _publish(sandbox, [0.1, 0.9, 0.9])
    first, second = make_app(), make_app()
    first.scan_metrics(sandbox.now)
    second.scan_metrics(sandbox.now)
    assert len(sandbox.emails) == 1


def test_a_silence_mutes_a_matching_incident_and_expires_on_time(sandbox, make_app, rules, state, caplog):
    ends = sandbox.now + timedelta(minutes=30)
    rules(f"""silences:
  - match: {{workspace: ws-scratch}}
    ends: {ends.isoformat()}
    reason: experiments fail on purpose during the load test
""")
    app = make_app()
    app.scan_run_failures(sandbox.now)
    sandbox.advance(timedelta(minutes=20))
    for ws, root in [("ws-scratch", "muted"), ("ws-prod", "loud")]:
        sandbox.add_tables(six_step_pipeline(ws, root, sandbox.now - timedelta(minutes=16)))
    with caplog.at_level("INFO"):
        app.scan_run_failures(sandbox.now)
    assert [s.split(" in ")[1] for s in _subjects(sandbox)] == ["ws-prod (root cause loud_train)"]
    muted = state.get_incident("run-failure:ws-scratch:muted")
    assert muted.status is Status.SILENCED
    assert "experiments fail on purpose" in muted.last_error
    assert "Suppressed run-failure:ws-scratch:muted by silence [workspace=ws-scratch]" in caplog.text

    sandbox.advance(timedelta(minutes=15))  # the silence has ended
    sandbox.add_tables(six_step_pipeline("ws-scratch", "after", sandbox.now - timedelta(minutes=16)))
    app.scan_run_failures(sandbox.now)
    assert len(sandbox.emails) == 2
    assert "ws-scratch (root cause after_train)" in _subjects(sandbox)[1]


def test_on_call_can_silence_from_the_cli_without_a_deploy(sandbox, app_settings, rules):
    rules("storm_limit: 20\n")
    env = {**app_settings, "RULES_FILE": str(Path(rules("storm_limit: 20\n")))}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "shared", *args], cwd=ROOT, env={**env, "PATH": ""},
                              capture_output=True, text=True, timeout=60, check=False)

    added = cli("silence", "add", "--match", "workspace=ws-scratch", "--match", "kind=run-failure", "--for", "2h",
                "--reason", "known flaky storage")
    assert added.returncode == 0, added.stderr
    assert "workspace=ws-scratch, kind=run-failure" in added.stdout or "kind=run-failure, workspace=ws-scratch" in (
        added.stdout)
    listed = cli("silence", "list")
    assert "known flaky storage" in listed.stdout
    silence_id = added.stdout.split("silence ")[1].split(" ")[0]
    assert cli("silence", "expire", silence_id).returncode == 0
    assert "known flaky storage" not in cli("silence", "list").stdout
    bad = cli("silence", "add", "--match", "colour=red", "--for", "2h", "--reason", "nope")
    assert bad.returncode == 2 and "colour" in bad.stderr


def test_routing_sends_a_workspace_to_its_team_only(sandbox, make_app, rules):
    rules("""routes:
  - match: {workspace: ws-churn-*}
    recipients: [churn-team@contoso.com]
""")
    app = make_app()
    app.scan_run_failures(sandbox.now)
    sandbox.advance(timedelta(minutes=20))
    for ws, root in [("ws-churn-prod", "churn"), ("ws-fraud-prod", "fraud")]:
        sandbox.add_tables(six_step_pipeline(ws, root, sandbox.now - timedelta(minutes=16)))
    app.scan_run_failures(sandbox.now)
    by_workspace = {e["content"]["subject"].split(" in ")[1].split(" ")[0]: e["recipients"]["to"]
                    for e in sandbox.emails}
    assert by_workspace == {
        "ws-churn-prod": [{"address": "churn-team@contoso.com"}],
        "ws-fraud-prod": [{"address": RECIPIENT}],
    }


def test_a_storm_becomes_one_digest(sandbox, make_app, rules, state):
    rules("storm_limit: 5\n")
    app = make_app()
    app.scan_run_failures(sandbox.now)
    sandbox.advance(timedelta(minutes=20))
    for i in range(12):
        sandbox.add_rows("AmlRunStatusChangedEvent", [
            status_row("ws-prod", f"p{i:02}_s", f"p{i:02}", f"p{i:02}", "Failed", sandbox.now - timedelta(minutes=3)),
            status_row("ws-prod", f"p{i:02}", "", f"p{i:02}", "Failed", sandbox.now - timedelta(minutes=2)),
        ])
    report = app.scan_run_failures(sandbox.now)
    assert (report.delivery.emails, report.delivery.digests, report.delivery.sent) == (1, 1, 12)
    [digest] = sandbox.emails
    assert digest["content"]["subject"] == "[AML] 12 alerts at once: 12 pipeline failures"
    assert digest["content"]["plainText"].count("[AML] Pipeline failed") == 12
    assert {r.status for r in state.incidents()} == {Status.SENT}
