"""The Teams Workflows webhook stand-in: signature checks, 202 with no body, runs that post or fail as the flow
would (Microsoft's Adaptive Cards library validates each card), faults, and the control API."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from sandbox import Sandbox

RawCall = Callable[..., tuple[int, Any]]

CARD = {
    "type": "AdaptiveCard",
    "version": "1.4",
    "body": [
        {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "Pipeline failed", "weight": "bolder"}]}
    ],
}


def message(*cards: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            for card in cards
        ],
    }


def post(sb: Sandbox, url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - https to the sandbox
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    context = ssl.create_default_context(cafile=sb.ca_bundle)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_a_valid_card_is_accepted_with_202_and_posted(sb: Sandbox) -> None:
    url = sb.add_teams_webhook("ml-oncall")
    status, body, _ = post(sb, url, message(CARD))
    assert (status, body) == (202, b"")
    [run] = sb.teams_runs
    assert (run["webhook"], run["status"], run["error"]) == ("ml-oncall", "Succeeded", None)
    assert sb.teams_cards == [{"webhook": "ml-oncall", "posted_at": "2026-01-02T12:00:00Z", "card": CARD}]


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({**CARD, "body": [{"type": "TextBlok", "text": "x"}]}, 'UnknownElementType: Unknown element type "TextBlok"'),
        ({**CARD, "body": [{"type": "Container", "style": "purple", "items": []}]}, 'Invalid value "purple"'),
        ({**CARD, "body": [{"type": "Table", "columns": [], "rows": []}]}, 'Unknown element type "Table"'),  # 1.5
        ({**CARD, "actions": [{"type": "Action.OpenUrl", "title": "Open"}]}, 'Property "url" must be set'),
        (
            {
                **CARD,
                "actions": [{"type": "Action.OpenUrl", "title": "x", "url": "https://ml.azure.com", "tooltip": "t"}],
            },
            'Property "tooltip" is supported in version 1.5, but you are using version 1.4',
        ),
        ({**CARD, "version": "1.6"}, "newer than Teams renders"),
        ({**CARD, "version": "one"}, 'version "one" is not an Adaptive Card schema version'),
        ({**CARD, "type": "MessageCard"}, "type must be AdaptiveCard"),
    ],
)
def test_an_invalid_card_is_accepted_but_its_run_fails_and_nothing_is_posted(
    sb: Sandbox, broken: dict, problem: str
) -> None:
    """What Workflows does: the trigger answers 202 before the flow runs; the post fails in the run history."""
    url = sb.add_teams_webhook()
    status, _, _ = post(sb, url, message(CARD, broken))
    assert status == 202
    [run] = sb.teams_runs
    assert run["status"] == "Failed"
    assert run["error"]["code"] == "InvalidCard"
    assert run["error"]["message"].startswith("attachments[1].content: ")
    assert problem in run["error"]["message"]
    assert sb.teams_cards == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"type": "message", "attachments": []}, "InvalidTemplate"),
        ({"text": "a connector MessageCard"}, "InvalidTemplate"),
        ([1, 2], "InvalidTemplate"),
        (message(CARD) | {"attachments": [{"contentType": "text/plain", "content": "x"}]}, "InvalidCard"),
        (
            message(
                {**CARD, "body": [{"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "x" * 30000}]}]}
            ),
            "RequestEntityTooLarge",
        ),
    ],
)
def test_a_payload_the_flow_cannot_post_fails_its_run(sb: Sandbox, payload: Any, code: str) -> None:
    status, _, _ = post(sb, sb.add_teams_webhook(), payload)
    assert status == 202
    assert [run["error"]["code"] for run in sb.teams_runs] == [code]
    assert sb.teams_cards == []


def test_the_signature_is_checked(sb: Sandbox) -> None:
    url = sb.add_teams_webhook()
    wrong = url[: url.index("sig=") + 4] + "x" + url[url.index("sig=") + 5 :]
    assert post(sb, wrong, message(CARD))[0] == 401
    status, body, _ = post(sb, url.split("&sig=")[0], message(CARD))
    assert (status, json.loads(body)["error"]["code"]) == (401, "DirectApiAuthorizationRequired")
    other = url.replace(url.split("/workflows/")[1][:32], "0" * 32)
    status, body, _ = post(sb, other, message(CARD))
    assert (status, json.loads(body)["error"]["code"]) == (404, "WorkflowNotFound")
    status, body, _ = post(sb, url, message(CARD), {"Authorization": "Bearer token"})
    assert (status, json.loads(body)["error"]["code"]) == (400, "DirectApiRequestHasMoreThanOneAuthorization")
    assert sb.teams_runs == []


def test_wrong_signature_answers_like_logic_apps(sb: Sandbox) -> None:
    url = sb.add_teams_webhook()
    status, body, _ = post(sb, url.replace("sig=", "sig=x"), message(CARD))
    assert status == 401
    assert json.loads(body) == {
        "error": {
            "code": "DirectApiInvalidAuthorizationSignature",
            "message": "The provided authorization signature is not valid.",
        }
    }


def test_faults_answer_429_with_retry_after_then_the_card_goes_through(sb: Sandbox) -> None:
    url = sb.add_teams_webhook()
    sb.fail_teams(429, count=2, retry_after=30)
    for _ in range(2):
        status, body, headers = post(sb, url, message(CARD))
        assert (status, headers["Retry-After"], json.loads(body)["error"]["code"]) == (429, "30", "TooManyRequests")
    assert post(sb, url, message(CARD))[0] == 202
    assert len(sb.teams_cards) == 1


def test_a_failure_window_on_the_sandbox_clock(sb: Sandbox, clock: datetime) -> None:
    url = sb.add_teams_webhook()
    sb.fail_teams_during(503, clock, clock + timedelta(minutes=5))
    assert post(sb, url, message(CARD))[0] == 503
    sb.advance(timedelta(minutes=5))
    assert post(sb, url, message(CARD))[0] == 202


def test_control_api_creates_webhooks_lists_runs_and_arms_faults(sb: Sandbox, raw: RawCall) -> None:
    status, created = raw("POST", "/_sandbox/teams/webhooks", {"name": "data-team"})
    assert status == 200 and "sig=" in created["url"]
    assert raw("POST", "/_sandbox/teams/faults", {"status": 429, "retry_after": 7})[0] == 200
    assert post(sb, created["url"], message(CARD))[2]["Retry-After"] == "7"
    assert post(sb, created["url"], message(CARD))[0] == 202
    status, runs = raw("GET", "/_sandbox/teams")
    assert status == 200 and [(run["webhook"], run["status"]) for run in runs] == [("data-team", "Succeeded")]
    raw("POST", "/_sandbox/reset", {})
    assert raw("GET", "/_sandbox/teams")[1] == []
    assert post(sb, created["url"], message(CARD))[0] == 202, "a reset keeps the webhooks"
