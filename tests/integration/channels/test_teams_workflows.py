"""The Workflows client over HTTPS against the sandbox's webhook: accepted, throttled then accepted, failing,
refused; the cards it sends are valid Adaptive Cards 1.4 for Microsoft's library; the URL's signature never
reaches a log record or an exception, even at DEBUG and on errors."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from shared.channels.teams.card import Notice, Severity, teams_payload
from shared.channels.teams.destinations import TeamsDestination, teams_destinations
from shared.channels.teams.workflows import TeamsSendFailed, WorkflowsWebhook

STUDIO = "https://ml.azure.com/runs/train_1?wsid=/subscriptions/0000/resourcegroups/rg/workspaces/ws-churn"
NOTICE = Notice(
    "Pipeline failed: churn-training",
    Severity.ATTENTION,
    ["Root cause: train"],
    [("Workspace", "ws-churn-prod")],
    "MemoryError: CUDA out of memory",
    [("Open in studio", STUDIO)],
)


@pytest.fixture
def destination(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[TeamsDestination]:
    """A webhook of the sandbox as the app would configure it. The test runs with DEBUG logging and ends by
    checking that no log record holds the URL's signature."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_bundle)
    caplog.set_level(logging.DEBUG)
    url = sandbox.add_teams_webhook("ml-oncall")
    yield teams_destinations({"TEAMS_WEBHOOK_ML_ONCALL": url}, allow_loopback=True)["ml-oncall"]
    records = caplog.get_records("call")
    secret = url.split("sig=")[1]
    leaked = [record.name for record in records if secret in record.getMessage()]
    assert leaked == [], f"the webhook signature was logged by {leaked}"
    assert any(record.name.startswith("urllib3") for record in records), "DEBUG logging was not on"


@pytest.fixture
def webhook(destination: TeamsDestination) -> Iterator[WorkflowsWebhook]:
    with WorkflowsWebhook(destination, max_retry_wait=2) as client:
        yield client


def assert_no_url(err: BaseException, destination: TeamsDestination) -> None:
    secret = destination.url.split("sig=")[1]
    assert secret not in str(err) and "/workflows/" not in str(err)
    assert err.__cause__ is None and err.__context__ is None


def test_a_card_is_accepted_and_reaches_the_channel(sandbox: Sandbox, webhook: WorkflowsWebhook) -> None:
    payload = teams_payload([NOTICE])
    assert webhook.post(payload) == 202
    [posted] = sandbox.teams_cards
    assert (posted["webhook"], posted["card"]) == ("ml-oncall", payload["attachments"][0]["content"])


def test_throttled_then_accepted_within_the_bound(sandbox: Sandbox, webhook: WorkflowsWebhook) -> None:
    sandbox.fail_teams(429, retry_after=1)
    started = time.monotonic()
    assert webhook.post(teams_payload([NOTICE])) == 202
    assert time.monotonic() - started >= 1, "Retry-After was honoured"
    assert sandbox.teams.raised == 1
    assert len(sandbox.teams_cards) == 1


def test_a_retry_after_beyond_the_bound_is_left_to_the_outbox(
    sandbox: Sandbox, webhook: WorkflowsWebhook, destination: TeamsDestination
) -> None:
    sandbox.fail_teams(429, retry_after=120)
    started = time.monotonic()
    with pytest.raises(TeamsSendFailed) as caught:
        webhook.post(teams_payload([NOTICE]))
    assert time.monotonic() - started < 5, "no two-minute sleep inside the call"
    err = caught.value
    assert (err.status, err.permanent, err.retry_after) == (429, False, 120)
    assert str(err) == (
        "Teams destination 'ml-oncall': HTTP 429 TooManyRequests (Retry-After 120 s): the service "
        "is busy or failing; tried again later"
    )
    assert_no_url(err, destination)
    assert sandbox.teams.raised == 1 and sandbox.teams_cards == []


def test_a_passing_5xx_is_retried_a_lasting_one_fails_retryable(
    sandbox: Sandbox, webhook: WorkflowsWebhook, destination: TeamsDestination
) -> None:
    sandbox.fail_teams(500)
    assert webhook.post(teams_payload([NOTICE])) == 202
    sandbox.fail_teams(503, count=3)
    with pytest.raises(TeamsSendFailed) as caught:
        webhook.post(teams_payload([NOTICE]))
    assert (caught.value.status, caught.value.permanent) == (503, False)
    assert sandbox.teams.raised == 4, "one try and two retries for the lasting 503"
    assert_no_url(caught.value, destination)
    assert len(sandbox.teams_cards) == 1


def test_400_is_permanent_and_not_retried(
    sandbox: Sandbox, webhook: WorkflowsWebhook, destination: TeamsDestination
) -> None:
    sandbox.fail_teams(400, count=3, retry_after=1)
    with pytest.raises(TeamsSendFailed) as caught:
        webhook.post(teams_payload([NOTICE]))
    assert (caught.value.status, caught.value.permanent) == (400, True)
    assert "HTTP 400 BadRequest: the workflow refused the payload as malformed" in str(caught.value)
    assert sandbox.teams.raised == 1, "a 400 is not retried, even with Retry-After"
    assert_no_url(caught.value, destination)


def test_a_wrong_signature_is_401_naming_the_setting(sandbox: Sandbox, destination: TeamsDestination) -> None:
    wrong = TeamsDestination(destination.name, destination.setting, destination.url.replace("sig=", "sig=x"))
    with WorkflowsWebhook(wrong) as client, pytest.raises(TeamsSendFailed) as caught:
        client.post(teams_payload([NOTICE]))
    assert caught.value.permanent
    assert str(caught.value) == (
        "Teams destination 'ml-oncall': HTTP 401 DirectApiInvalidAuthorizationSignature: the signature was refused: "
        "the URL in TEAMS_WEBHOOK_ML_ONCALL is incomplete or was regenerated; copy it again from the Workflows trigger"
    )
    assert_no_url(caught.value, wrong)


def test_a_deleted_workflow_is_404(sandbox: Sandbox, destination: TeamsDestination) -> None:
    gone = destination.url.replace(destination.url.split("/workflows/")[1][:32], "f" * 32)
    with (
        WorkflowsWebhook(TeamsDestination("ml-oncall", destination.setting, gone)) as client,
        pytest.raises(TeamsSendFailed, match=r"HTTP 404 WorkflowNotFound: no such workflow") as caught,
    ):
        client.post(teams_payload([NOTICE]))
    assert caught.value.permanent


def test_no_connection_is_retryable_and_quotes_no_url(destination: TeamsDestination) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    host_port = destination.url.split("/")[2]
    nowhere = TeamsDestination(
        "ml-oncall", destination.setting, destination.url.replace(host_port, f"127.0.0.1:{port}")
    )
    with WorkflowsWebhook(nowhere) as client, pytest.raises(TeamsSendFailed) as caught:
        client.post(teams_payload([NOTICE]))
    assert str(caught.value) == (
        "Teams destination 'ml-oncall': could not connect (the card was not sent); tried again later"
    )
    assert not caught.value.permanent and not caught.value.in_doubt
    assert_no_url(caught.value, nowhere)


def test_an_answer_lost_after_the_post_is_in_doubt(
    sandbox: Sandbox, webhook: WorkflowsWebhook, destination: TeamsDestination
) -> None:
    """The card reached the channel and the connection broke before the 202: the sender cannot know."""
    sandbox.lose_teams_answer_next()
    with pytest.raises(TeamsSendFailed) as caught:
        webhook.post(teams_payload([NOTICE]))
    assert str(caught.value) == (
        "Teams destination 'ml-oncall': no answer after the card was sent (it may have been posted); tried again later"
    )
    assert (caught.value.in_doubt, caught.value.permanent) == (True, False)
    assert len(sandbox.teams_cards) == 1, "posted once: a transport error is not retried inside the call"
    assert_no_url(caught.value, destination)


def test_the_client_sends_no_credential_and_says_who_it_is(webhook: WorkflowsWebhook) -> None:
    """The sandbox answers 400 to a request with an Authorization header besides the signature."""
    assert webhook.post(teams_payload([NOTICE])) == 202
    assert "ml-oncall" in repr(webhook) and "sig=" not in repr(webhook)


def test_cards_built_from_hostile_text_are_valid_for_microsofts_library(
    sandbox: Sandbox, webhook: WorkflowsWebhook
) -> None:
    hostile = "[click](https://evil.net) **bold** <at>everyone</at> \u202e\x00 😀 " * 40
    notices = [
        NOTICE,
        Notice(
            hostile,
            Severity.WARNING,
            [hostile] * 9,
            [(hostile, hostile)] * 20,
            "\n".join([hostile] * 50),
            [(hostile, "https://evil.net/x"), ("Portal", "https://portal.azure.com/#blade")],
        ),
        Notice("Resolved", Severity.GOOD),
    ]
    for payload in (teams_payload([notice]) for notice in notices):
        webhook.post(payload)
    webhook.post(teams_payload(notices * 10))  # a digest
    assert [(run["status"], run["error"]) for run in sandbox.teams_runs] == [("Succeeded", None)] * 4
