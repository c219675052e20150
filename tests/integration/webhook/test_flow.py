"""alert_webhook end to end: the real function, Azurite for state, the sandbox for Log Analytics and ACS Email."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import function_app
from sandbox.action_group import deliver
from sandbox.scenarios import six_step_pipeline
from shared.entrypoints import alerting_app
from shared.outbox.records import Status
from shared.webhook.handler import REQUEST_BUDGET
from tests.html_parts import HtmlParts
from tests.integration.conftest import RECIPIENT
from tests.unit.webhook.test_payload import payloads

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "alerts"
DATA = SAMPLES.parent
webhook = function_app.alert_webhook.build().get_user_function()
PIPELINE_SUBJECT = "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"


def _sample(name: str, sandbox, **essentials) -> dict:
    """A sample payload, fired now (sandbox clock), its window the last 15 minutes."""
    document = json.loads((SAMPLES / f"{name}.json").read_text())
    now = sandbox.now
    document["data"]["essentials"].update(firedDateTime=now.isoformat(), **essentials)
    condition = (document["data"].get("alertContext") or {}).get("condition")
    if isinstance(condition, dict):
        condition.update(windowStartTime=(now - timedelta(minutes=15)).isoformat(), windowEndTime=now.isoformat())
    return document


def _post(document, headers=None) -> tuple[int, dict, dict]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    response = webhook(
        func.HttpRequest(
            "POST", "/api/alerts", body=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
    )
    return response.status_code, json.loads(response.get_body()), dict(response.headers)


def _seed_failed_pipeline(sandbox):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))


def _statuses():
    return {record.key: record.status for record in alerting_app().incidents.records()}


def _subjects(sandbox):
    return [email["content"]["subject"] for email in sandbox.emails]


def test_a_failed_runs_metric_alert_becomes_the_per_pipeline_email_with_the_alert(sandbox, app_settings):
    _seed_failed_pipeline(sandbox)
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert status == 200, body
    assert (body["status"], body["sent"]) == ("processed", 1)
    # At delivery the alert became the scan's own incident (its key), which ACS accepted; the alert's record says so.
    [alert_key] = body["incidents"]
    assert _statuses() == {alert_key: Status.REPLACED, "run-failure:ws-prod:pipe1": Status.ACCEPTED}
    assert alerting_app().incidents.get(alert_key).last_error == "replaced by run-failure:ws-prod:pipe1"
    [email] = sandbox.emails
    assert email["content"]["subject"] == PIPELINE_SUBJECT
    assert email["recipients"]["to"] == [{"address": RECIPIENT}]
    text = email["content"]["plainText"]
    assert "Alert:         aml-failed-pipeline-runs (Sev2), fired" in text
    assert "ROOT CAUSE: step pipe1_train Failed on compute gpu-cluster" in text
    assert "ValueError: Input contains NaN" in text and "pipe1_evaluate: Failed" in text
    assert len(sandbox.queries) == 1  # one query for the whole alert


def test_a_log_alert_with_run_dimensions_is_enriched_the_same_way(sandbox, app_settings):
    _seed_failed_pipeline(sandbox)
    status, body, _ = _post(_sample("log-alerts-v2-aml-runs", sandbox))
    assert (status, body["sent"]) == (200, 1)
    assert _subjects(sandbox) == [PIPELINE_SUBJECT]
    assert "aml-failed-runs-log-alert" in sandbox.emails[0]["content"]["plainText"]


def test_the_workspace_a_log_alert_names_is_found_whatever_the_case_of_its_guid(sandbox, app_settings, monkeypatch):
    other = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"  # configured in upper case; the alert's link has it in lower
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", f"{app_settings['LOG_ANALYTICS_WORKSPACE_IDS']},{other}")
    alerting_app.cache_clear()
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)), other)
    document = _sample("log-alerts-v2-aml-runs", sandbox)
    criterion = document["data"]["alertContext"]["condition"]["allOf"][0]
    criterion["linkToSearchResultsAPI"] = f"https://api.loganalytics.io/v1/workspaces/{other.lower()}/query?query=x"
    status, body, _ = _post(document)
    assert (status, body["sent"]) == (200, 1)
    assert [query["workspace_id"] for query in sandbox.queries] == [other]
    assert _subjects(sandbox) == [PIPELINE_SUBJECT]


def test_a_pipeline_the_scan_already_emailed_is_not_emailed_again(sandbox, make_app):
    _seed_failed_pipeline(sandbox)
    assert make_app().scan("run-failures", sandbox.now).delivery.sent == 1
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert (status, body["sent"]) == (200, 0)
    assert _subjects(sandbox) == [PIPELINE_SUBJECT]
    assert Status.REPLACED in _statuses().values()


def test_the_scan_does_not_email_a_pipeline_the_webhook_already_emailed(sandbox, make_app):
    _seed_failed_pipeline(sandbox)
    _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert make_app().scan("run-failures", sandbox.now).delivery.sent == 0
    assert _subjects(sandbox) == [PIPELINE_SUBJECT]


def test_the_alert_joins_a_pipeline_email_the_scan_has_not_sent_yet_and_the_scan_keeps_it(sandbox, make_app):
    # Failed a minute ago: the next scan's overlap re-reads it and re-detects the pipeline.
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=16)))
    app = make_app()
    sandbox.fail_next("email", 500, count=3)  # the scan's send fails: its record waits in the outbox
    assert app.scan("run-failures", sandbox.now).delivery.retrying == 1
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert (status, body["sent"]) == (200, 0)  # the pipeline's record is backing off; the alert joined it
    sandbox.advance(timedelta(minutes=5))
    assert app.scan("run-failures", sandbox.now).scans[0].incidents  # re-detected: must not drop the alert block
    [email] = sandbox.emails
    assert email["content"]["subject"] == PIPELINE_SUBJECT
    assert "Alert:         aml-failed-pipeline-runs (Sev2)" in email["content"]["plainText"]


def test_five_copies_at_the_same_moment_make_one_email(sandbox, app_settings):
    document = _sample("activity-log-administrative-compute-delete", sandbox)
    body = json.dumps(document).encode()
    alerting_app()  # built once, as in a warm Function App instance with concurrent requests
    barrier, chains = threading.Barrier(5), []

    def deliver_copy():  # each copy as Azure delivers it: a 503 is retried after 5 s, a 2xx ends it
        barrier.wait()
        chains.append(deliver(lambda b: _post(b)[0], body))

    threads = [threading.Thread(target=deliver_copy) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A copy that meets another's unfinished claim is told to retry (503), never "done" before the alert is
    # recorded; its retry finds the delivery done.
    assert [chain[-1] for chain in chains] == [200] * 5, chains
    assert _subjects(sandbox) == ["[Azure Monitor] Fired: Sev2 aml-compute-deleted on gpu-cluster"]
    status, answer, _ = _post(document)  # and a retry much later
    assert (status, answer["status"], len(sandbox.emails)) == (200, "duplicate", 1)


def test_a_resolved_after_a_fired_sends_one_resolved_notice(sandbox, app_settings):
    _seed_failed_pipeline(sandbox)
    fired = _sample("platform-static-aml-failed-runs", sandbox)
    resolved = _sample(
        "platform-static-aml-failed-runs",
        sandbox,
        monitorCondition="Resolved",
        resolvedDateTime=sandbox.now.isoformat(),
    )
    for document in (fired, resolved, resolved, fired):
        assert _post(document)[0] == 200
    assert _subjects(sandbox) == [
        PIPELINE_SUBJECT,
        "[Azure Monitor] Resolved: Sev2 aml-failed-pipeline-runs on ws-prod",
    ]
    assert len(sandbox.queries) == 1  # a Resolved notice needs no enrichment


@pytest.mark.parametrize("name", sorted(path.stem for path in SAMPLES.glob("*.json")))
def test_every_documented_service_gets_exactly_one_email(sandbox, app_settings, name):
    status, body, _ = _post(_sample(name, sandbox))
    assert (status, body["status"], body["sent"]) == (200, "processed", 1), body
    [email] = sandbox.emails
    assert email["content"]["subject"].startswith("[Azure Monitor] Fired: ")


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("common-metric-alert.json", "[Azure Monitor] Fired: Sev4 test-metricAlertRule on test-storageAccount"),
        ("common-log-alert-v2.json", "[Azure Monitor] Fired: Sev4 test-logAlertRule-v2 on test-logAnalyticsWorkspace"),
    ],
)
def test_the_two_reference_samples_get_their_email(sandbox, app_settings, name, subject):
    # Separate tests: Microsoft's two samples share one alertId, so together they are one alert delivered twice.
    assert _post(json.loads((DATA / name).read_text()))[0] == 200
    assert _subjects(sandbox) == [subject]


def test_when_logs_have_not_arrived_yet_the_alert_email_says_so(sandbox, app_settings):
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert (status, body["sent"]) == (200, 1)
    assert Status.REPLACED not in _statuses().values()
    [email] = sandbox.emails
    assert "No failed run of this alert is in Log Analytics yet" in email["content"]["plainText"]


def test_a_slow_log_analytics_cannot_take_the_request_past_its_budget(sandbox, app_settings):
    """The enrichment query used to wait up to 180 s (server timeout, SDK retries): now a few seconds, then the
    alert is emailed without step details and the scan emails the pipeline."""
    _seed_failed_pipeline(sandbox)
    sandbox.delay_next("logs", 15)
    status, body, _ = _post(_sample("platform-static-aml-failed-runs", sandbox))
    assert (status, body["sent"]) == (200, 1)
    assert body["ms"] < REQUEST_BUDGET * 1000
    assert "could not be read from Log Analytics now" in sandbox.emails[0]["content"]["plainText"]


def test_a_hostile_run_id_runs_in_the_sandbox_and_matches_nothing(sandbox, app_settings):
    _seed_failed_pipeline(sandbox)
    document = _sample("log-alerts-v2-aml-runs", sandbox)
    dims = document["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"]
    dims[0]["value"] = 'nothing" or RunId != "'  # would match every run if it were spliced into the query
    dims[1]["value"] = 'x\\") or true or ("\n| where true'
    status, body, _ = _post(document)
    assert (status, body["sent"]) == (200, 1)  # the query ran (no error) and found no such run: the alert itself
    assert Status.REPLACED not in _statuses().values()
    assert len(sandbox.queries) == 1 and 'or RunId != \\"' in sandbox.queries[0]["query"]
    assert PIPELINE_SUBJECT not in _subjects(sandbox)


def test_the_email_links_only_to_azure_and_shows_any_other_host_as_text(sandbox, app_settings):
    document = _sample("log-alerts-v2-aml-runs", sandbox, investigationLink="https://portal.azure.com.evil.example/p")
    criterion = document["data"]["alertContext"]["condition"]["allOf"][0]
    criterion["linkToFilteredSearchResultsUI"] = "https://portal.azure.com/#blade/logs\n"  # `$` let this through
    assert _post(document)[0] == 200
    [email] = sandbox.emails
    html, text = email["content"]["html"], email["content"]["plainText"]
    links = HtmlParts(html).links
    assert links and all(urlsplit(link).hostname == "portal.azure.com" and "\n" not in link for link in links)
    assert "portal[.]azure[.]com[.]evil[.]example (not an Azure address; not linked)" in text
    assert "evil.example" not in html + text
    assert "Open the query results: portal[.]azure[.]com (a malformed link; not linked)" in text


def test_acs_refusing_leaves_the_alert_in_the_outbox_and_still_answers_200(sandbox, make_app, state):
    sandbox.fail_next("email", 429, count=3)
    status, body, _ = _post(_sample("resource-health", sandbox))
    assert (status, body["sent"], body["pending"]) == (200, 0, 1)
    [record] = state.incidents.records()
    assert record.status is Status.PENDING and "429" in record.last_error
    sandbox.advance(timedelta(minutes=2))
    assert make_app().deliver_outbox(sandbox.now + timedelta(minutes=2)).sent == 1
    assert len(sandbox.emails) == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{nope", {}, 400, "not valid JSON"),
        (
            json.dumps({"schemaId": "AzureMonitorMetricAlert", "data": {}}).encode(),
            {},
            400,
            "Enable the common alert schema",
        ),
        (b"x" * (256 * 1024 + 1), {}, 413, "at most 262144 bytes"),
        (b"<xml/>", {"Content-Type": "text/xml"}, 415, "send application/json"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_why_and_change_nothing(
    sandbox, app_settings, state, body, headers, status, message
):
    answer_status, answer, _ = _post(body, headers)
    assert answer_status == status and message in answer["error"]
    assert state.incidents.records() == [] and sandbox.emails == []


def _sample_text(name: str, **essentials) -> str:
    document = json.loads((SAMPLES / f"{name}.json").read_text())
    document["data"]["essentials"].update(essentials)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            _sample_text("resource-health", alertRule="__n__").replace('"__n__"', "9" * 5000),
            "an integer of more than 4300 digits",
        ),
        (
            _sample_text("resource-health", firedDateTime="0001-01-01T00:00:00+01:00"),
            "data.essentials.firedDateTime: Value error, the time must be between 2000-01-01 and 3000-01-01 (UTC)",
        ),
        (
            _sample_text("resource-health", firedDateTime="9999-12-31T23:30:00-01:00"),
            "data.essentials.firedDateTime: Value error, the time must be between 2000-01-01 and 3000-01-01 (UTC)",
        ),
        # The enrichment's window arithmetic used to overflow on this one (answered 503: Azure retried a bad input).
        (
            _sample_text("platform-static-aml-failed-runs", firedDateTime="0001-01-01T00:00:00Z"),
            "data.essentials.firedDateTime: Value error, the time must be between 2000-01-01 and 3000-01-01 (UTC)",
        ),
    ],
    ids=["5000-digit-integer", "year-1-plus-one-hour", "year-9999-minus-one-hour", "year-1-failed-runs"],
)
def test_odd_input_is_a_clear_400_and_changes_nothing(sandbox, app_settings, state, body, message):
    status, answer, _ = _post(body.encode())
    assert (status, answer["status"]) == (400, "rejected"), answer
    assert message in answer["error"]
    assert state.incidents.records() == [] and sandbox.emails == [] and sandbox.queries == []


def test_targets_outside_the_allow_list_are_refused(sandbox, app_settings, monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOWED_SCOPES", "00000000-0000-0000-0000-0000000000ff")
    alerting_app.cache_clear()
    status, body, _ = _post(_sample("resource-health", sandbox))
    assert status == 403 and "outside WEBHOOK_ALLOWED_SCOPES" in body["error"]
    monkeypatch.setenv(
        "WEBHOOK_ALLOWED_SCOPES", "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod"
    )
    alerting_app.cache_clear()
    assert _post(_sample("resource-health", sandbox))[0] == 200


def test_secure_webhook_mode_requires_a_valid_action_group_token(sandbox, app_settings, monkeypatch, httpserver):
    from shared.webhook.secure import SecureWebhook
    from tests.unit.webhook.test_secure import AUDIENCE, SIGNING, TENANT, _jwk, _token

    httpserver.expect_request("/keys").respond_with_json({"keys": [_jwk(SIGNING, "k1")]})
    monkeypatch.setenv("WEBHOOK_AUTH", "entra")
    monkeypatch.setenv("WEBHOOK_TENANT_ID", TENANT)
    monkeypatch.setenv("WEBHOOK_AUDIENCE", AUDIENCE)
    alerting_app.cache_clear()
    # Entra's JWKS endpoint, replaced by the local one.
    alerting_app().__dict__["secure_webhook"] = SecureWebhook(TENANT, (AUDIENCE,), jwks_url=httpserver.url_for("/keys"))
    document = _sample("resource-health", sandbox)
    status, body, headers = _post(document)
    assert status == 401 and "bearer token is required" in body["error"] and "WWW-Authenticate" in headers
    assert _post(document, {"Authorization": _token(roles=[])})[0] == 403
    assert _post(document, {"Authorization": _token()})[0] == 200
    assert len(sandbox.emails) == 1


def _fresh_alert_id(body: bytes, suffix: str) -> bytes:
    """Most generated payloads reuse a sample's alertId; a fresh one makes each go through the whole path."""
    try:
        document = json.loads(body)
        document["data"]["essentials"]["alertId"] += suffix
    except (ValueError, TypeError, KeyError, AttributeError):
        return body
    return json.dumps(document).encode()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=payloads(), suffix=st.uuids())
def test_no_generated_delivery_gets_a_5xx(sandbox_server, app_settings, body, suffix):
    status, answer, _ = _post(_fresh_alert_id(body, str(suffix)))
    assert status < 500, answer
    assert (status == 200) == (answer.get("status") in ("processed", "duplicate")), answer
