"""Common alert schema: every documented monitoringService parses and reads well; bad input says what is wrong."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.alert_payload import MAX_BODY_BYTES, PayloadError, parse_alert, safe_link, summarise
from shared.email_render import render_alert, render_incident
from tests.html_parts import HtmlParts

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLES = DATA / "alerts"


def _load(name: str) -> dict:
    path = DATA / name if (DATA / name).exists() else SAMPLES / f"{name}.json"
    return json.loads(path.read_text())


def _email(document: dict):
    return render_alert(summarise(parse_alert(json.dumps(document).encode())))


# (sample, context model, what the on-call person must read in the email)
EXPECTED = [
    ("common-metric-alert.json", "MetricContext",
     ["Fired: Sev4 test-metricAlertRule on test-storageAccount", "Transactions (Microsoft.Storage/storageAccounts)",
      "Total 100 GreaterThan 0", "ApiName=GetBlob", "Custom property customKey1: value1"]),
    ("common-log-alert-v2.json", "LogV2Context",
     ["Fired: Sev4 test-logAlertRule-v2 on test-logAnalyticsWorkspace", "Query: Heartbeat", "Count 3 GreaterThan 0",
      "Computer=test-computer", "Open the query results: https://portal.azure.com#@"]),
    ("platform-static-aml-failed-runs", "MetricContext",
     ["aml-failed-pipeline-runs on ws-prod", "Failed Runs", "RunType=PipelineRun"]),
    ("platform-dynamic", "MetricContext", ["egress-anomaly", "Sensitivity: High", "Total 50101 GreaterThan 47658"]),
    ("platform-availability", "MetricContext", ["Availability test: scoring-endpoint-ping", "Sum 5 GreaterThan 2"]),
    ("log-alerts-v2-aml-runs", "LogV2Context", ["RunId=pipe1", "WorkspaceName=ws-prod"]),
    ("log-analytics-v1", "LogV1Context",
     ["Alert type: Metric measurement", "Threshold: Less Than 10000", "Results: 2"]),
    ("application-insights-v1", "LogV1Context", ['requests | where resultCode == "500"', "Results: 7"]),
    ("activity-log-administrative-compute-delete", "ActivityLogContext",
     ["Operation: Microsoft.MachineLearningServices/workspaces/computes/delete", "Caller: someone@contoso.com",
      "Status: Succeeded", "Time: 2026-03-01 11:58:00 UTC", "Resource: /subscriptions/"]),
    ("activity-log-policy", "ActivityLogContext",
     ["Microsoft.Authorization/policies/audit/action", "AuditIfNotExists"]),
    ("activity-log-autoscale", "ActivityLogContext", ["Old instances count: 9", "New instances count: 10"]),
    ("activity-log-security", "ActivityLogContext", ["Threat status: Quarantined", "Compromised entity: vm-1"]),
    ("resource-health", "ActivityLogContext",
     ["Title: The workspace is unavailable", "Current health status: Unavailable", "Cause: PlatformInitiated"]),
    ("service-health", "ActivityLogContext",
     ["Title: Azure Machine Learning - West Europe - Degraded", "Tracking id: ABCD-123",
      "Communication: Engineers are investigating."]),
    ("smart-detector", "SmartDetectorContext",
     ["Detector: Dependency Performance Degradation Detector", "Detected value: 0.45 sec"]),
    ("prometheus", "PrometheusContext",
     ['Expression: up{job="gpu-node"} == 0', "Annotation summary: GPU node is down"]),
    ("cost-budget", "CostContext",
     ["Fired: Budget ml-training", "Spent Amount: $1,200.00", "Budget Name: ml-training"]),
]


@pytest.mark.parametrize(("name", "model", "expected"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_every_documented_service_parses_and_its_email_says_what_fired(name, model, expected):
    document = _load(name)
    alert = parse_alert(json.dumps(document).encode())
    assert type(alert.context).__name__ == model
    assert alert.context_problem == ""
    email = render_alert(summarise(alert))
    readable = email.subject + "\n" + email.text
    for text in expected:
        assert text in readable, (text, readable)
    assert "None" not in email.text.replace("NoneType", "")


def test_a_resolved_alert_reads_as_resolved():
    document = _load("common-metric-alert.json")
    document["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime="2025-04-15T18:30:00Z")
    email = _email(document)
    assert email.subject.startswith("[Azure Monitor] Resolved: Sev4 test-metricAlertRule")
    assert "Resolved:      2025-04-15T18:30:00+00:00" in email.text
    assert "#1a7f37" in email.html  # green header, not the red one


def test_an_unknown_service_still_gets_a_readable_generic_email():
    document = _load("common-metric-alert.json")
    document["data"]["essentials"]["monitoringService"] = "Brand New Service"
    document["data"]["alertContext"] = {"Widget": "spinning", "Details": {"speed": 3, "unit": "rpm"}}
    alert = parse_alert(json.dumps(document).encode())
    assert alert.context is None and "not one this app knows" in alert.context_problem
    email = render_alert(summarise(alert))
    assert "Widget: spinning" in email.text and "Details.speed: 3" in email.text
    assert "Brand New Service" in email.text


def test_a_known_service_with_an_unexpected_context_degrades_to_the_generic_email():
    document = _load("common-metric-alert.json")
    document["data"]["alertContext"]["condition"] = "not an object"
    alert = parse_alert(json.dumps(document).encode())
    assert alert.context is None
    assert "data.alertContext.condition" in alert.context_problem
    assert "condition: not an object" in render_alert(summarise(alert)).text


BAD = [
    (b"", 400, "The body is empty"),
    (b"{not json", 400, "The body is not valid JSON (Expecting property name enclosed in double quotes at line 1"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b"[1, 2]", 400, "The body is a JSON array; expected a JSON object"),
    (b'"text"', 400, "The body is a JSON string"),
    (json.dumps({"schemaId": "AzureMonitorMetricAlert", "data": {}}).encode(), 400,
     "This is a classic metric alert payload, not the Azure Monitor common alert schema"),
    (json.dumps({"schemaId": "Microsoft.Insights/activityLogs", "data": {}}).encode(), 400,
     "classic activity log alert payload"),
    (json.dumps({"SearchQuery": "Heartbeat", "AlertRuleName": "x"}).encode(), 400,
     "This is a classic log alert (V1) payload"),
    (json.dumps({"schemaId": 7}).encode(), 400, "schemaId must be the string 'azureMonitorCommonAlertSchema'"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_bad_bodies_are_rejected_with_a_message_that_says_why(body, status, message):
    with pytest.raises(PayloadError) as error:
        parse_alert(body)
    assert error.value.status == status
    assert message in error.value.message


def test_a_legacy_payload_is_told_how_to_enable_the_common_schema():
    with pytest.raises(PayloadError) as error:
        parse_alert(json.dumps({"schemaId": "AzureMonitorMetricAlert"}).encode())
    assert "Enable the common alert schema" in error.value.message
    assert "useCommonAlertSchema: true" in error.value.message


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.pop("alertId"), "data.essentials.alertId: Field required"),
    (lambda e: e.update(monitorCondition="Active"), "data.essentials.monitorCondition: Input should be 'Fired' or "
                                                    "'Resolved' (got 'Active')"),
    (lambda e: e.update(firedDateTime="yesterday"), "data.essentials.firedDateTime: Input should be a valid datetime"),
    (lambda e: e.update(alertTargetIDs="/subscriptions/x"), "data.essentials.alertTargetIDs: Input should be a valid "
                                                            "list"),
    (lambda e: e.update(severity="Critical"), "data.essentials.severity: String should match pattern"),
    (lambda e: e.update(monitoringService=5), "data.essentials.monitoringService: Input should be a valid string"),
])
def test_missing_or_mistyped_essentials_are_named(change, message):
    document = _load("common-metric-alert.json")
    change(document["data"]["essentials"])
    with pytest.raises(PayloadError) as error:
        parse_alert(json.dumps(document).encode())
    assert error.value.status == 400
    assert message in error.value.message


def test_an_oversized_body_is_413():
    with pytest.raises(PayloadError) as error:
        parse_alert(b" " * (MAX_BODY_BYTES + 1))
    assert error.value.status == 413 and "256 KB" in error.value.message



def test_hostile_values_are_escaped_and_unsafe_links_dropped():
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    document = _load("common-log-alert-v2.json")
    document["data"]["essentials"].update(alertRule=hostile, description=hostile)
    criterion = document["data"]["alertContext"]["condition"]["allOf"][0]
    criterion["searchQuery"] = hostile
    criterion["linkToFilteredSearchResultsUI"] = "javascript:alert(1)"
    criterion["linkToSearchResultsUI"] = "javascript:alert(2)"
    email = _email(document)
    parser = HtmlParts()
    parser.feed(email.html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not any(link.startswith("javascript") for link in parser.links)
    assert hostile in "".join(parser.text)
    assert "\n" not in email.subject


def test_stored_alert_summaries_render_through_the_kind_registry():
    summary = summarise(parse_alert((DATA / "common-metric-alert.json").read_bytes()))
    stored = json.loads(json.dumps(summary))  # as read back from the outbox
    assert render_incident("alert", stored).subject == render_alert(summary).subject


# --- hypothesis: any body -> a validated alert and an email, or a PayloadError; never anything else -----------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                               inner, max_size=4),
                     max_leaves=12)
_SERVICES = st.sampled_from(["Platform", "Log Alerts V2", "Log Analytics", "Application Insights",
                             "Activity Log - Administrative", "Resource Health", "ServiceHealth", "SmartDetector",
                             "Prometheus", "CostAlerts", "Unknown"]) | st.text(max_size=20)
_SAMPLE_NAMES = [e[0] for e in EXPECTED]


# Extreme values: integers far past float range and past Python's int parsing limit (4,300 digits), times at
# datetime's ends (in UTC they fall outside it), and strings no store or email can carry.
_HUGE = "__huge_integer__"  # replaced in the JSON text: json.dumps cannot even write a 5,000-digit integer
_DIGITS = st.builds(lambda first, count: str(first) + "7" * count, st.integers(1, 9),
                    st.sampled_from([18, 400, 4299, 4300, 5000]) | st.integers(0, 6000))
_OFFSET = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
_EXTREME_TIMES = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
    "1999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59",
]) | st.builds(lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(), st.datetimes(), _OFFSET)
_ODD_TEXT = st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202e", "x" * 5000])
_TIME_FIELDS = ["firedDateTime", "resolvedDateTime", "windowStartTime", "windowEndTime", "eventTimestamp"]


def _extremes(draw, document: dict) -> str:
    """Extreme values in a real payload's time fields and anywhere else; the JSON text of the result."""
    essentials = document["data"]["essentials"]
    context = document["data"].get("alertContext") or {}
    condition = context.get("condition") if isinstance(context.get("condition"), dict) else {}
    for field in draw(st.lists(st.sampled_from(_TIME_FIELDS), min_size=1, max_size=3)):
        target = essentials if field.endswith("DateTime") else condition if field.startswith("window") else context
        target[field] = draw(_EXTREME_TIMES)
    containers = [essentials, context, document["data"]]
    criteria = condition.get("allOf") if isinstance(condition.get("allOf"), list) else []
    containers += [criterion for criterion in criteria if isinstance(criterion, dict)]
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(containers))
        key = draw(st.sampled_from(sorted(target) or ["x"]) | st.text(max_size=8))
        target[key] = draw(st.just(_HUGE) | _ODD_TEXT)
    return json.dumps(document).replace(f'"{_HUGE}"', draw(_DIGITS))


@st.composite
def payloads(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:  # arbitrary bytes
        return draw(st.binary(max_size=200))
    if kind == 1:  # arbitrary JSON
        return json.dumps(draw(_JSON)).encode()
    document = _load(draw(st.sampled_from(_SAMPLE_NAMES)))
    essentials = document["data"]["essentials"]
    if kind == 2:  # a real payload with fields replaced by junk of any type, or removed
        for field in draw(st.lists(st.sampled_from(sorted(essentials)), max_size=4)):
            if draw(st.booleans()):
                essentials.pop(field, None)
            else:
                essentials[field] = draw(_JSON)
        essentials["monitoringService"] = draw(_SERVICES)
        if draw(st.booleans()):
            document["data"]["alertContext"] = draw(_JSON)
    elif kind == 3:  # a real payload with a junk value deep in its context
        context = document["data"].get("alertContext") or {}
        for key in draw(st.lists(st.sampled_from(sorted(context) or ["x"]), max_size=3)):
            context[key] = draw(_JSON)
    else:  # a real payload with extreme values
        return _extremes(draw, document).encode()
    return json.dumps(document).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_any_body_gives_an_email_or_a_clear_4xx(body):
    try:
        alert = parse_alert(body)
    except PayloadError as err:
        assert 400 <= err.status < 500 and err.message
        return
    email = render_incident("alert", json.loads(json.dumps(summarise(alert))))
    assert email.subject and email.text and email.html


@pytest.mark.parametrize(("url", "linked"), [
    ("https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/x", True),
    ("https://portal.azure.com#@tenant/blade/Microsoft_Azure_Monitoring_Logs/LogsBlade/q/abc", True),
    ("https://ml.azure.com/runs/pipe1?wsid=/subscriptions/s/resourcegroups/g/workspaces/w", True),
    ("https://portal.azure.us/#home", True),
    ("https://portal.azure.com.evil.example/phish", False),
    ("https://evil.example/#https://portal.azure.com/", False),
    ("https://portal.azure.com@evil.example/", False),
    ("https://portal.azure.com:8443/", False),
    ("https://portal.azure.com/\n", False),
    ("https://portal.azure.com\\@evil.example/", False),
    ("http://portal.azure.com/", False),
    ("javascript:alert(1)", False),
])
def test_only_azure_hosts_are_linked(url, linked):
    assert (safe_link(url) == url) is linked


def test_a_look_alike_host_is_shown_as_text_never_as_a_link():
    document = _load("common-metric-alert.json")
    document["data"]["essentials"]["investigationLink"] = "https://portal.azure.com.evil.example/phish"
    email = _email(document)
    parser = HtmlParts(email.html)
    assert not any("evil" in link for link in parser.links)
    shown = "portal[.]azure[.]com[.]evil[.]example (not an Azure address; not linked)"
    assert f"Open the alert in the Azure portal: {shown}" in email.text and shown in "".join(parser.text)
    assert "evil.example" not in email.html + email.text  # no mail client can make a link of it
    assert any(link.startswith("https://portal.azure.com/#view/") for link in parser.links)  # the real one stays
