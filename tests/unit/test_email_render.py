"""Rendering: the email says what failed first, links to studio, and cannot be broken by error text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sandbox.scenarios import six_step_pipeline, status_row
from shared.email_render import render_run_failure
from shared.run_failures import events_from_rows, group_pipeline_failures
from tests.html_parts import HtmlParts
from tests.unit.test_run_failures import _query_rows

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
TENANT = "00000000-0000-0000-0000-0000000000bb"


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
    expected = {f"https://ml.azure.com/runs/{run}?{wsid}&tid={TENANT}" for run in
                ["pipe1", "pipe1_train", "pipe1_evaluate", "pipe1_deploy", "pipe1_register", "pipe1_report"]}
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
    from shared.compute_changes import read_changes
    from shared.email_render import render_compute_change

    [change], _ = read_changes([{
        "CorrelationId": "c-1", "TimeGenerated": START, "Caller": "alice@contoso.com", "CallerIpAddress": "203.0.113.7",
        "OperationNameValue": "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/COMPUTES/DELETE",
        "ActivityStatusValue": "Succeeded", "FailedPipelinesAfter": 2, "FirstFailureAfter": START,
        "ResourceId": "/subscriptions/s/resourcegroups/rg/providers/microsoft.machinelearningservices/workspaces/ws-a"
                      "/computes/gpu-cluster",
    }])
    email = render_compute_change(change)
    assert email.subject == "[AML] computes/delete succeeded: gpu-cluster in ws-a by alice@contoso.com"
    assert "PIPELINES FAILED AFTERWARDS: 2 pipeline run(s)" in email.text
    assert "alice@contoso.com" in email.html and "gpu-cluster" in email.html


def test_metric_notice_shows_the_breaching_points():
    from shared.email_render import render_metric_notice

    payload = {
        "notice": "firing", "rule": "churn-drift", "description": "Drift <of> churn", "metric": "drift",
        "namespace": "azure.applicationinsights", "aggregation": "Maximum", "operator": "GreaterThan",
        "threshold": 0.3, "filter": "feature eq '*'", "interval_minutes": 5.0, "consecutive": 3,
        "resource_id": "/subscriptions/s/resourceGroups/g/providers/microsoft.insights/components/appi",
        "dimensions": {"feature": "age"}, "episode_start": START.isoformat(), "at": START.isoformat(),
        "value": 0.71, "recent": [[START.isoformat(), 0.1, False], [START.isoformat(), 0.71, True]],
    }
    email = render_metric_notice(payload)
    assert email.subject == "[AML] FIRING: churn-drift on appi (drift = 0.71)"
    assert "0.71  <- breaching" in email.text and "0.1\n" in email.text
    assert "Drift &lt;of&gt; churn" in email.html


def test_digest_lists_every_incident_once():
    from shared import outbox
    from shared.email_render import render_digest

    records = [outbox.new_record(f"run-failure:ws:p{i}", "run-failure", {}, (), START, START) for i in range(3)]
    rendered = [(r, render_run_failure(_incident())) for r in records]
    email = render_digest(rendered)
    assert email.subject == "[AML] 3 alerts at once: 3 pipeline failures"
    assert email.text.count("[AML] Pipeline failed") == 3
