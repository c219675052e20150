"""Incidents too big for Table Storage never block a workspace (Azurite refuses a property over 64 KiB with
PropertyValueTooLarge, as the service does), and rows the scan cannot use are counted, not dropped silently.

Real SDK clients against Azurite and the sandbox; each test checks first what on-call receives."""

from __future__ import annotations

import logging
import random
import string
import uuid
from datetime import timedelta

from azure.data.tables import TableServiceClient

from sandbox import DEFAULT_WORKSPACE_ID
from sandbox.scenarios import activity_rows, job_failed_row, six_step_pipeline, status_row

COMPUTE_DELETE = "Microsoft.MachineLearningServices/workspaces/computes/delete"
PIPE1 = "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"


def _wide_pipeline(sandbox, root: str, steps: int, failed_steps: int = 1, error_chars: int = 200) -> str:
    """A pipeline run with `steps` steps (run ids like Azure ML's), the first `failed_steps` of them failing with
    `error_chars` of incompressible error text each, the others completing; then the pipeline run fails.
    Returns the root-cause step's run id."""
    rng = random.Random(steps * 31 + failed_steps)
    at = sandbox.now - timedelta(minutes=40)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(steps)]
    statuses, jobs = [], []
    for index, run_id in enumerate(ids):
        failed = index < failed_steps
        moment = at + timedelta(seconds=index % 600)
        statuses.append(status_row("ws-prod", run_id, root, root, "Failed" if failed else "Completed", moment))
        if failed:
            error = "".join(rng.choices(string.ascii_letters + string.digits, k=error_chars))
            jobs.append(job_failed_row("ws-prod", run_id, "feature-refresh", "cpu-cluster", moment, error))
    statuses.append(status_row("ws-prod", root, "", root, "Failed", at + timedelta(minutes=15)))
    sandbox.add_tables({"AmlRunStatusChangedEvent": statuses, "AmlComputeJobEvent": jobs})
    return ids[0]


def _subjects(sandbox):
    return [email["content"]["subject"] for email in sandbox.emails]


def _history(azurite_connection_string):
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    return sorted(service.get_table_client("history").list_entities(), key=lambda row: row["RowKey"])


def test_a_pipeline_with_thousands_of_steps_is_emailed_and_blocks_nothing(sandbox, make_app, state):
    cause = _wide_pipeline(sandbox, "huge", steps=4000)
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    app = make_app()
    app.scan_run_failures(sandbox.now)
    assert sorted(_subjects(sandbox)) == sorted([PIPE1, f"[AML] Pipeline failed: feature-refresh in ws-prod "
                                                        f"(root cause {cause})"])
    assert state.get_watermark("run-failures", DEFAULT_WORKSPACE_ID) == sandbox.now
    sandbox.advance(timedelta(minutes=5))
    app.scan_run_failures(sandbox.now)
    assert len(sandbox.emails) == 2


def test_details_too_large_even_compressed_are_shortened_and_the_email_says_so(sandbox, make_app,
                                                                               azurite_connection_string):
    cause = _wide_pipeline(sandbox, "noisy", steps=80, failed_steps=60, error_chars=2000)
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    app = make_app()
    app.scan_run_failures(sandbox.now)
    noisy = f"[AML] Pipeline failed: feature-refresh in ws-prod (root cause {cause})"
    assert sorted(_subjects(sandbox)) == sorted([PIPE1, noisy])
    [email] = [e for e in sandbox.emails if e["content"]["subject"] == noisy]
    assert "Note: The details were" in email["content"]["plainText"]
    assert "property limit" in email["content"]["html"]
    sandbox.advance(timedelta(minutes=5))
    app.scan_run_failures(sandbox.now, since=timedelta(hours=2))  # detected again: shortened the same way, so
    assert len(sandbox.emails) == 2                                 # nothing changed and nothing is sent
    first, second = _history(azurite_connection_string)
    assert (first["Shortened"], second["Shortened"], second["Incidents"], second["Updated"]) == (1, 1, 2, 0)


def test_an_incident_the_table_service_refuses_is_alerted_in_minimal_form_and_blocks_nothing(
        sandbox, make_app, state, azurite_connection_string, monkeypatch, caplog):
    # Suppose the construction bound were wrong: the payload goes out unshortened and Azurite refuses it.
    monkeypatch.setattr("shared.entity_bounds.PAYLOAD_BYTES", 10**7)
    _wide_pipeline(sandbox, "noisy", steps=80, failed_steps=60, error_chars=2000)
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    with caplog.at_level(logging.ERROR):
        make_app().scan_run_failures(sandbox.now)
    assert sorted(_subjects(sandbox)) == sorted([PIPE1, "[AML] run-failure:ws-prod:noisy (details could not be "
                                                        "stored)"])
    assert "PropertyValueTooLarge" in next(e for e in sandbox.emails if "noisy" in e["content"]["subject"])[
        "content"]["plainText"]
    assert state.get_watermark("run-failures", DEFAULT_WORKSPACE_ID) == sandbox.now
    [history] = _history(azurite_connection_string)
    assert (history["NotStored"], history["NotStoredKeys"], history["Claimed"]) == (1, "run-failure:ws-prod:noisy", 2)
    assert "incident run-failure:ws-prod:noisy could not be stored (HTTP 400 PropertyValueTooLarge" in caplog.text


def test_rows_the_scan_cannot_use_are_counted_and_logged(sandbox, make_app, azurite_connection_string, caplog):
    # A run with an empty RunId in a failed pipeline: the query returns it (the service drops rows with a null
    # TimeGenerated itself, by the query's timespan), and the scan cannot use it.
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.add_rows("AmlRunStatusChangedEvent", [
        status_row("ws-prod", "", "pipe1", "pipe1", "Running", sandbox.now - timedelta(minutes=20))])
    with caplog.at_level(logging.WARNING):
        make_app().scan_run_failures(sandbox.now)
    assert _subjects(sandbox) == [PIPE1]
    [history] = _history(azurite_connection_string)
    assert (history["Rows"], history["SkippedRows"]) == (8, 1)
    assert "run-failures scan of " in caplog.text and "skipped 1 row(s) with no RunId" in caplog.text


def test_activity_records_the_scan_cannot_use_are_counted_and_logged(sandbox, make_app, azurite_connection_string,
                                                                    caplog):
    sandbox.add_rows("AzureActivity", [{
        **row, "CorrelationId": ""} for row in activity_rows("ws-prod", "gpu", COMPUTE_DELETE, "mallory@contoso.com",
                                                             sandbox.now - timedelta(minutes=10), "c-1")])
    with caplog.at_level(logging.WARNING):
        make_app().scan_compute_changes(sandbox.now)
    assert sandbox.emails == []
    [history] = _history(azurite_connection_string)
    assert (history["Rows"], history["SkippedRows"]) == (1, 1)
    assert "skipped 1 row(s) with no CorrelationId" in caplog.text
