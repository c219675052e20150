"""Secure Webhook mode through the real function: both audience forms, and Entra's key endpoint in trouble.

Entra's JWKS endpoint is replaced by a local HTTP server (pytest-httpserver): the only stand-in here that is not
the sandbox, because the app's key fetch is a plain HTTPS GET of a JSON document.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import azure.functions as func
import pytest
from pytest_httpserver import HTTPServer

import function_app
from shared.entrypoints import alerting_app
from shared.secure_webhook import KEYS_TIMEOUT, SecureWebhook
from tests.unit.test_secure_webhook import AUDIENCE, SIGNING, TENANT, _jwk, _token

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "alerts" / "resource-health.json"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
webhook = function_app.alert_webhook.build().get_user_function()


def _post(authorization: str, alert: str = "a") -> tuple[int, dict, dict]:
    document = json.loads(SAMPLE.read_text())
    document["data"]["essentials"]["alertId"] += f"-{alert}"
    response = webhook(func.HttpRequest("POST", "/api/alerts", body=json.dumps(document).encode(),
                                        headers={"Content-Type": "application/json", "Authorization": authorization}))
    return response.status_code, json.loads(response.get_body()), dict(response.headers)


@pytest.fixture
def entra(app_settings, monkeypatch):
    """WEBHOOK_AUTH=entra with both audience forms; returns a function that points the app at a key endpoint."""
    monkeypatch.setenv("WEBHOOK_AUTH", "entra")
    monkeypatch.setenv("WEBHOOK_TENANT_ID", TENANT)
    monkeypatch.setenv("WEBHOOK_AUDIENCE", f"{AUDIENCE}, {CLIENT_ID}")
    alerting_app.cache_clear()

    def keys_at(url: str) -> None:  # Entra's endpoint is not configurable: only its URL is replaced
        app = alerting_app()
        app.__dict__["secure_webhook"] = SecureWebhook(TENANT, app.settings.webhook_audiences, jwks_url=url)

    return keys_at


def test_v1_and_v2_tokens_are_both_accepted(sandbox, entra, httpserver):
    httpserver.expect_request("/keys").respond_with_json({"keys": [_jwk(SIGNING, "k1")]})
    entra(httpserver.url_for("/keys"))
    v1 = _token(aud=AUDIENCE)
    v2 = _token(aud=CLIENT_ID, appid=None, azp="461e8683-5575-4561-ac7f-899cc907d62a",
                iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")
    assert [_post(v1, "v1")[0], _post(v2, "v2")[0]] == [200, 200]
    assert len(sandbox.emails) == 2


def test_an_html_page_instead_of_keys_is_503_not_500(sandbox, entra, httpserver):
    httpserver.expect_request("/keys").respond_with_data("<html><body>Sign in</body></html>",
                                                         content_type="text/html")
    entra(httpserver.url_for("/keys"))
    status, body, headers = _post(_token())
    assert (status, body["status"]) == (503, "retry")
    assert "signing keys could not be fetched" in body["error"] and int(headers["Retry-After"]) > 0
    assert sandbox.emails == []


@pytest.fixture
def hanging_keys():
    """A key endpoint that accepts requests and never answers (until the test ends); counts the fetches."""
    release, fetches = threading.Event(), []

    def hang(request):
        fetches.append(time.monotonic())
        release.wait(30)

    server = HTTPServer(threaded=True)
    server.expect_request("/keys").respond_with_handler(hang)
    server.start()
    yield server.url_for("/keys"), fetches
    release.set()
    server.stop()


def test_while_the_key_endpoint_hangs_concurrent_deliveries_fetch_once_and_get_503_quickly(
        sandbox, entra, hanging_keys):
    url, fetches = hanging_keys
    entra(url)
    barrier, answers = threading.Barrier(6), []

    def deliver(index):
        barrier.wait()
        answers.append(_post(_token(), f"c{index}"))

    threads = [threading.Thread(target=deliver, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _, _ in answers] == [503] * 6
    assert len(fetches) == 1  # one fetch waited for the endpoint; the others did not fetch again
    assert max(body["ms"] for _, body, _ in answers) < (KEYS_TIMEOUT + 1) * 1000  # not 5, 10, ... 30 s
    status, body, headers = _post(_token(), "later")  # Azure's retry 5 s later: remembered, no new fetch
    assert (status, len(fetches)) == (503, 1) and body["ms"] < 500 and int(headers["Retry-After"]) > 0
    assert sandbox.emails == []
