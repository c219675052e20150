"""The failed-pipeline email with Azure ML run history, end to end: the app's real clients over HTTPS against the
sandbox (Log Analytics rows and run history seeded from one pipeline model), Azurite for state, ACS's stand-in
for the email. What on-call reads: step names, the error, the log tail, the timeline; never a secret."""

from __future__ import annotations

import logging
import zlib
from dataclasses import replace
from datetime import timedelta

import pytest

from sandbox.scenarios import six_step_run
from sandbox.step_logs import DEMO_SECRETS
from shared.outbox.records import Status


def _content(sandbox):
    [email] = sandbox.emails
    return email["content"]


def test_the_email_names_steps_by_display_name_with_error_log_tail_and_timeline(sandbox, make_app):
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    make_app().scan("run-failures", sandbox.now)

    content = _content(sandbox)
    assert content["subject"] == "[AML] Pipeline failed: churn_training_pipeline in ws-prod (root cause train_model)"
    text, html = content["plainText"], content["html"]
    assert "ROOT CAUSE: train_model Failed (component train_lightgbm_classifier)" in text
    assert "on gpu-cluster" in text
    assert "Triggered by:  Nightly Scheduler" in text
    assert "Failed at:     " in text and "(the pipeline run)" in text  # one "failed at": the pipeline's own
    assert "UserError" in text  # the error code from run history
    assert "Last " in text and "std_log.txt" in text  # the log tail
    assert "ValueError: Input contains NaN" in text
    assert "ALSO FAILED:" in text and "evaluate_model Failed" in text
    timeline = text[text.index("STEPS (in order of start):") :]
    assert [name for name in ("prep_data", "train_model", "evaluate_model", "register_model") if name in timeline]
    assert timeline.index("prep_data") < timeline.index("train_model") < timeline.index("register_model")
    assert "python -m shared silence add --match kind=run-failure --match workspace=ws-prod" in text
    # The timeline in table cells, coloured by outcome, no CSS classes, scripts or images.
    assert 'bgcolor="#fdecea"' in html and 'bgcolor="#e9f7ef"' in html
    assert "class=" not in html and "<script" not in html and "<img" not in html


def test_no_secret_of_a_step_log_reaches_the_email_the_logs_or_the_tables(
    sandbox, make_app, caplog: pytest.LogCaptureFixture, azurite_connection_string: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    make_app().scan("run-failures", sandbox.now)

    content = _content(sandbox)
    assert "[REDACTED]" in content["plainText"]  # the lines that held them are shown, redacted
    logged = "\n".join(record.getMessage() for record in caplog.records)
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(azurite_connection_string)
    entities = [
        entity for table in service.list_tables() for entity in service.get_table_client(table.name).list_entities()
    ]
    # The outbox stores its payloads compressed: read them as the app does.
    stored = "\n".join(
        repr(entity) + (zlib.decompress(bytes(entity["Payload"])).decode() if "Payload" in entity else "")
        for entity in entities
    )
    assert "train_model" in stored or "pipe1_train" in stored  # the incident is there
    for secret in DEMO_SECRETS:
        for where, text in (("text", content["plainText"]), ("html", content["html"]), ("logs", logged)):
            assert secret not in text, where
        assert secret not in stored
    assert "sig=" not in stored and "sig=" not in logged.replace("sig=[REDACTED]", "")


def test_run_history_refused_the_email_goes_once_saying_the_role_is_needed(sandbox, make_app):
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.fail_service("runhistory", 403, workspace="ws-prod")
    app = make_app()
    app.scan("run-failures", sandbox.now)
    sandbox.advance(timedelta(minutes=5))
    app.scan("run-failures", sandbox.now)

    content = _content(sandbox)  # exactly one
    assert content["subject"] == "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"
    assert "ValueError: Input contains NaN" in content["plainText"]  # as without run history
    assert "Step details need the role 'AML Failure Alert Reader'" in content["plainText"]
    assert "403" in content["plainText"]
    [record] = app.incidents.due(sandbox.now + timedelta(days=1)) or [None]
    assert record is None or record.status is not Status.PENDING


def test_a_serverless_pipeline_gets_the_same_email(sandbox, make_app):
    cluster = six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30))
    serverless = replace(cluster, steps=tuple(replace(step, compute="") for step in cluster.steps))
    assert not serverless.tables().get("AmlComputeJobEvent")  # no compute-level row at all
    sandbox.add_pipeline(serverless)
    make_app().scan("run-failures", sandbox.now)

    content = _content(sandbox)
    assert content["subject"] == "[AML] Pipeline failed: churn_training_pipeline in ws-prod (root cause train_model)"
    text = content["plainText"]
    assert "ROOT CAUSE: train_model Failed (component train_lightgbm_classifier)" in text
    assert "on serverless compute" in text
    assert "ValueError: Input contains NaN" in text  # from run history's error and log tail, not AmlComputeJobEvent
