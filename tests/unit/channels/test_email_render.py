"""Rendering: the email says what failed first, links to studio, and cannot be broken by error text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sandbox.scenarios import six_step_pipeline, status_row
from shared.channels.email.render import render_incident
from shared.detectors.base import ViewOptions
from shared.detectors.run_failures import KIND, group_pipeline_failures, incident_payload
from shared.detectors.run_failures_query import events_from_rows
from tests.html_parts import HtmlParts
from tests.unit.detectors.test_run_failures import _query_rows

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
TENANT = "00000000-0000-0000-0000-0000000000bb"


def render_run_failure(incident, tenant_id=None):
    """A pipeline failure's email, as the outbox renders it from the stored payload."""
    return render_incident(KIND, incident_payload(incident), ViewOptions(tenant_id))


def _incident(rows=None):
    rows = rows or _query_rows(six_step_pipeline("ws-prod", "pipe1", START))
    [incident] = group_pipeline_failures(events_from_rows(rows))
    return incident


def test_subject_and_text_name_the_root_cause_first():
    email = render_run_failure(_incident(), TENANT)
    assert email.subject == "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"
    text = email.text
    assert text.index("ROOT CAUSE: step pipe1_train Failed") < text.index("DOWNSTREAM (4)")
    assert "ValueError: Input contains NaN" in text
    assert text.index("pipe1_evaluate: Failed") < text.index("pipe1_report: NotStarted")
    assert "1 other step(s) completed" in text


def test_links_open_the_pipeline_and_each_step_in_studio():
    email = render_run_failure(_incident(), TENANT)
    parser = HtmlParts()
    parser.feed(email.html)
    wsid = "wsid=/subscriptions/00000000-0000-0000-0000-0000000000aa/resourcegroups/RG-ML-PROD/workspaces/ws-prod"
    expected = {
        f"https://ml.azure.com/runs/{run}?{wsid}&tid={TENANT}"
        for run in ["pipe1", "pipe1_train", "pipe1_evaluate", "pipe1_deploy", "pipe1_register", "pipe1_report"]
    }
    assert set(parser.links) == expected
    assert all(link in email.text for link in expected)


def test_hostile_error_text_is_escaped_in_html_and_kept_readable_in_text():
    hostile = '<script>alert("x")</script><a href="https://evil.example">click</a> & more'
    row = {**status_row("ws", "p_step", "p", "p", "Failed", START, hostile), "ResourceId": ""}
    email = render_run_failure(_incident([row]))
    parser = HtmlParts()
    parser.feed(email.html)
    assert "script" not in parser.tags
    assert "https://evil.example" not in parser.links
    assert hostile in "".join(parser.text)  # shown to the reader as text
    assert hostile in email.text


def test_subject_cannot_carry_extra_header_lines():
    row = {**status_row("ws", "p\r\nBcc: victim@example.com", "", "", "Failed", START), "ResourceId": ""}
    email = render_run_failure(_incident([row]))
    assert "\n" not in email.subject and "\r" not in email.subject


def test_without_a_workspace_resource_id_there_are_no_broken_links():
    row = {**status_row("ws", "p_step", "p", "p", "Failed", START), "ResourceId": ""}
    email = render_run_failure(_incident([row]))
    assert "ml.azure.com" not in email.html and "ml.azure.com" not in email.text
    assert not re.search(r"\bNone\b", email.text)


def test_compute_change_email_says_who_did_what_to_which_resource():
    from shared.detectors.compute_changes import change_payload, read_changes

    [change], _ = read_changes(
        [
            {
                "CorrelationId": "c-1",
                "TimeGenerated": START,
                "Caller": "alice@contoso.com",
                "CallerIpAddress": "203.0.113.7",
                "OperationNameValue": "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/COMPUTES/DELETE",
                "ActivityStatusValue": "Succeeded",
                "FailedPipelinesAfter": 2,
                "FirstFailureAfter": START,
                "ResourceId": "/subscriptions/s/resourcegroups/rg/providers/microsoft.machinelearningservices"
                "/workspaces/ws-a/computes/gpu-cluster",
            }
        ]
    )
    email = render_incident("compute-change", change_payload(change))
    assert email.subject == "[AML] computes/delete succeeded: gpu-cluster in ws-a by alice@contoso.com"
    assert "PIPELINES FAILED AFTERWARDS: 2 pipeline run(s)" in email.text
    assert "alice@contoso.com" in email.html and "gpu-cluster" in email.html


def test_metric_notice_shows_the_breaching_points():

    payload = {
        "notice": "firing",
        "rule": "churn-drift",
        "description": "Drift <of> churn",
        "metric": "drift",
        "namespace": "azure.applicationinsights",
        "aggregation": "Maximum",
        "operator": "GreaterThan",
        "threshold": 0.3,
        "filter": "feature eq '*'",
        "interval_minutes": 5.0,
        "consecutive": 3,
        "resource_id": "/subscriptions/s/resourceGroups/g/providers/microsoft.insights/components/appi",
        "dimensions": {"feature": "age"},
        "episode_start": START.isoformat(),
        "at": START.isoformat(),
        "value": 0.71,
        "recent": [[START.isoformat(), 0.1, False], [START.isoformat(), 0.71, True]],
    }
    email = render_incident("metric", payload)
    assert email.subject == "[AML] FIRING: churn-drift on appi (drift = 0.71)"
    assert "0.71  <- breaching" in email.text and "0.1\n" in email.text
    assert "Drift &lt;of&gt; churn" in email.html


def test_digest_lists_every_incident_once():
    from shared.channels.email.render import digest_entry, render_digest
    from shared.outbox import records as outbox

    payload = incident_payload(_incident())
    records = [outbox.new_record(f"run-failure:ws:p{i}", "run-failure", payload, (), START, START) for i in range(3)]
    email = render_digest([digest_entry(r) for r in records])
    assert email.subject == "[AML] 3 alerts at once: 3 pipeline failures"
    assert email.text.count("[AML] Pipeline failed") == 3
