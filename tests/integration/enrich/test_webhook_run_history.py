"""The webhook's pipelines get the same run-history details as the scan's: the alert becomes the failed pipeline
(Log Analytics, at intake) and its email is enriched at delivery by the same run-history enricher, within what
the request has left."""

from __future__ import annotations

from datetime import timedelta

from sandbox.scenarios import six_step_run
from tests.integration.webhook.test_flow import _post, _sample


def test_a_failed_runs_alert_gets_the_pipeline_email_with_step_names_error_and_log(sandbox, app_settings):
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))

    assert status == 200 and body["sent"] == 1, body
    [email] = sandbox.emails
    assert email["content"]["subject"] == (
        "[AML] Pipeline failed: churn_training_pipeline in ws-prod (root cause train_model)"
    )
    text = email["content"]["plainText"]
    assert "Alert:         aml-failed-pipeline-runs (Sev2), fired" in text
    assert "ROOT CAUSE: train_model Failed (component train_lightgbm_classifier)" in text
    assert "Last " in text and "std_log.txt" in text
    assert "STEPS (in order of start):" in text
