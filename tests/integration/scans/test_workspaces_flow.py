"""What a real Log Analytics does that a kind one does not, end to end with the app's real SDK clients, Azurite and
the sandbox: tables that do not exist yet, a workspace that answers 403/404/429/5xx while the others answer,
throttling with Retry-After inside the tick's time budget, several operations under one correlation id, and
compute jobs logged with another case of the run id."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from sandbox.scenarios import TRAIN_ERROR, activity_rows, six_step_pipeline

WS_A = "aaaaaaaa-0000-0000-0000-000000000001"
WS_B = "bbbbbbbb-0000-0000-0000-000000000002"
WS_C = "cccccccc-0000-0000-0000-000000000003"
DELETE = "Microsoft.MachineLearningServices/workspaces/computes/delete"


def _subjects(sandbox):
    return sorted(email["content"]["subject"] for email in sandbox.emails)


def _pipeline_subject(workspace: str, root: str) -> str:
    return f"[AML] Pipeline failed: churn-model-training in {workspace} (root cause {root}_train)"


@pytest.fixture
def workspaces(monkeypatch, app_settings, sandbox):
    """The app watches three Log Analytics workspaces that exist but have no table yet."""
    for workspace_id in (WS_A, WS_B, WS_C):
        sandbox.add_workspace(workspace_id)
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", f"{WS_A},{WS_B},{WS_C}")
    return (WS_A, WS_B, WS_C)


def _history(azurite_connection_string: str) -> list[dict]:
    table = TableServiceClient.from_connection_string(azurite_connection_string).get_table_client("history")
    return sorted(table.list_entities(), key=lambda row: row["RowKey"])


def test_workspaces_without_any_aml_table_scan_clean_and_move_their_watermark(workspaces, sandbox, make_app, state):
    app = make_app()
    for report in (app.scan("run-failures", sandbox.now), app.scan("compute-changes", sandbox.now)):
        assert [(scan.outcome, scan.rows, scan.error) for scan in report.scans] == [("complete", 0, "")] * 3
        assert "NOT READ" not in report.summary()
    for scan in ("run-failures", "compute-changes"):
        assert [state.scans.get_watermark(scan, ws) for ws in workspaces] == [sandbox.now] * 3
    assert sandbox.emails == []


def test_a_workspace_without_compute_job_events_still_emails_its_failed_pipelines(workspaces, sandbox, make_app):
    pipeline = six_step_pipeline("ws-serverless", "pipe1", sandbox.now - timedelta(minutes=30))
    sandbox.add_rows("AmlRunStatusChangedEvent", pipeline["AmlRunStatusChangedEvent"], WS_B)  # no AmlComputeJobEvent
    report = make_app().scan("run-failures", sandbox.now)
    assert [scan.outcome for scan in report.scans] == ["complete"] * 3
    [email] = sandbox.emails
    assert email["content"]["subject"] == "[AML] Pipeline failed: pipe1 in ws-serverless (root cause pipe1_train)"
    text = email["content"]["plainText"]
    assert "ROOT CAUSE: step pipe1_train Failed\n" in text  # no compute, no compute error text
    assert "Execution failed: user error" in text  # the run's own status message
    assert "ValueError" not in text and "gpu-cluster" not in text
    assert "pipe1_evaluate" in text


def test_a_partial_result_beside_a_missing_table_is_still_read_again(workspaces, sandbox, make_app, state):
    pipeline = six_step_pipeline("ws-a", "pipe1", sandbox.now - timedelta(minutes=30))
    sandbox.add_rows("AmlRunStatusChangedEvent", pipeline["AmlRunStatusChangedEvent"], WS_A)
    sandbox.fail_next_partial()  # the answer holds the missing-table warning and a real partial failure
    report = make_app().scan("run-failures", sandbox.now)
    assert [scan.outcome for scan in report.scans] == ["partial", "complete", "complete"]
    assert state.scans.get_watermark("run-failures", WS_A) is None
    assert len(sandbox.emails) == 1  # what it did read is used


@pytest.mark.parametrize(
    ("status", "retry_after", "error"),
    [
        (403, None, "403 InsufficientAccessError"),
        (404, None, "404 PathNotFoundError"),
        (429, 600, "429 TooManyRequests (Retry-After 600 s)"),
        (503, None, "503 ServiceUnavailable"),
    ],
)
def test_one_bad_workspace_does_not_stop_the_others_and_loses_nothing(
    workspaces, sandbox, make_app, state, status, retry_after, error, azurite_connection_string, caplog
):
    failed_at = sandbox.now - timedelta(minutes=30)
    for workspace_id, name in zip(workspaces, ("ws-a", "ws-b", "ws-c"), strict=True):
        sandbox.add_tables(six_step_pipeline(name, f"{name}-run", failed_at), workspace_id)
    sandbox.fail_workspace(WS_C, status, retry_after=retry_after)
    app = make_app()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="shared.scans.workspace"):
        report = app.scan("run-failures", sandbox.now)
    assert time.monotonic() - started < 30  # a Retry-After of 10 minutes is not waited for
    [logged] = caplog.records  # a person must fix access or the workspace id; the rest passes by itself
    assert logged.levelno == (logging.ERROR if status in (403, 404) else logging.WARNING)
    assert WS_C in logged.getMessage()
    assert _subjects(sandbox) == [_pipeline_subject("ws-a", "ws-a-run"), _pipeline_subject("ws-b", "ws-b-run")]
    [failed] = report.failed
    assert failed.workspace_id == WS_C and failed.error.startswith(error)
    assert f"NOT READ, retried next tick: {WS_C} ({error}" in report.summary()
    assert report.delivery.sent == 2
    requests = sandbox.faults.raised[f"logs:{WS_C}"]
    assert requests <= 4  # the SDK's own retries at most, no storm
    bad = [row for row in _history(azurite_connection_string) if row["Source"] == WS_C]
    assert [(row["Outcome"], row["Error"][: len(error)]) for row in bad] == [("failed", error)]

    # It stays bad for two hours (longer than the first scan's lookback): every tick reports it, nothing is lost.
    for _ in range(2):
        sandbox.advance(timedelta(hours=1))
        assert [scan.workspace_id for scan in app.scan("run-failures", sandbox.now).failed] == [WS_C]
    sandbox.heal_workspace(WS_C)
    sandbox.advance(timedelta(minutes=5))
    report = app.scan("run-failures", sandbox.now)
    assert report.failed == []
    assert _subjects(sandbox) == [_pipeline_subject(n, f"{n}-run") for n in ("ws-a", "ws-b", "ws-c")]
    assert state.scans.get_watermark("run-failures", WS_C) == sandbox.now


def test_a_short_retry_after_is_honoured_within_the_tick(workspaces, sandbox, make_app):
    sandbox.add_tables(six_step_pipeline("ws-c", "late", sandbox.now - timedelta(minutes=30)), WS_C)
    sandbox.fail_workspace(WS_C, 429, count=1, retry_after=1)
    started = time.monotonic()
    report = make_app().scan("run-failures", sandbox.now)
    assert time.monotonic() - started >= 1  # waited as told
    assert report.failed == [] and report.delivery.sent == 1
    assert sandbox.faults.raised[f"logs:{WS_C}"] == 1


def test_throttling_everywhere_cannot_make_a_tick_overrun_its_budget(workspaces, sandbox, make_app):
    for workspace_id in workspaces:
        sandbox.fail_workspace(workspace_id, 429, retry_after=2)
    app = make_app()
    app.scan_policy = dataclasses.replace(app.scan_policy, query_budget=timedelta(seconds=8))
    started = time.monotonic()
    report = app.scan("run-failures", sandbox.now)
    assert time.monotonic() - started < 8
    assert [scan.outcome for scan in report.scans] == ["failed"] * 3
    assert sandbox.faults.raised["logs"] <= 5  # one retry fits the budget, then one try per workspace at most
    assert report.delivery is not None  # the delivery still ran


def test_three_computes_deleted_in_one_deployment_make_three_emails(sandbox, make_app, monkeypatch, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"compute_changes:\n  operations: [{DELETE}]\n")
    monkeypatch.setenv("RULES_FILE", str(rules))
    app = make_app()
    deleted_at = sandbox.now - timedelta(minutes=3)
    for compute in ("gpu-a", "gpu-b", "cpu-c"):  # one ARM deployment: one correlation id for all three
        sandbox.add_rows(
            "AzureActivity",
            activity_rows("ws-prod", compute, DELETE, "deployer@contoso.com", deleted_at, "deployment-correlation-1"),
        )
    for _ in range(3):  # the overlap re-reads every record: still one email each
        app.scan("compute-changes", sandbox.now)
        sandbox.advance(timedelta(minutes=5))
    assert _subjects(sandbox) == [
        f"[AML] computes/delete succeeded: {compute} in ws-prod by deployer@contoso.com"
        for compute in ("cpu-c", "gpu-a", "gpu-b")
    ]


def test_compute_error_text_is_found_whatever_the_case_of_the_job_name(sandbox, make_app):
    pipeline = six_step_pipeline("ws-prod", "AutoML_Run1", sandbox.now - timedelta(minutes=30))
    for job in pipeline["AmlComputeJobEvent"]:
        job["JobName"] = job["JobName"].lower()  # AutoML logs its jobs with another case of the run id
    sandbox.add_tables(pipeline)
    make_app().scan("run-failures", sandbox.now)
    [email] = sandbox.emails
    text = email["content"]["plainText"]
    assert "ROOT CAUSE: step AutoML_Run1_train Failed on compute gpu-cluster" in text
    assert TRAIN_ERROR.splitlines()[-1] in text
