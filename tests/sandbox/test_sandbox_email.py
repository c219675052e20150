"""ACS Email through the real EmailClient: accepted sends, operation ids, validation, faults, failed operations."""

from __future__ import annotations

import time

import pytest
from azure.communication.email import EmailClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError

from sandbox import Sandbox

MESSAGE = {
    "senderAddress": "alerts@example.org",
    "recipients": {"to": [{"address": "oncall@example.org", "displayName": "On call"}]},
    "content": {"subject": "Pipeline P1 failed", "plainText": "step S1: disk full"},
}


def test_send_is_captured_with_the_client_operation_id(sb: Sandbox, email: EmailClient) -> None:
    started = time.monotonic()
    result = email.begin_send(MESSAGE, operation_id="op-123").result()
    assert time.monotonic() - started < 2, "the poller must not wait its 30 s default"
    assert result["status"] == "Succeeded"
    assert result["id"] == "op-123"
    [sent] = sb.emails
    assert sent["operation_id"] == "op-123"
    assert sent["recipients"]["to"][0]["address"] == "oncall@example.org"
    assert sent["content"]["subject"] == "Pipeline P1 failed"
    assert sent["accepted_at"] == "2026-01-02T12:00:00Z"


def test_operation_id_is_generated_when_not_given(sb: Sandbox, email: EmailClient) -> None:
    result = email.begin_send(MESSAGE).result()
    assert result["id"] == sb.emails[0]["operation_id"]
    assert len(result["id"]) == 36


@pytest.mark.parametrize(("broken", "expected"), [
    ({"senderAddress": ""}, "senderAddress"),
    ({"recipients": {"to": []}}, "recipient"),
    ({"content": {"subject": "s"}}, "plainText"),
    ({"content": {"plainText": "body"}}, "subject"),
])
def test_invalid_messages_are_400(sb: Sandbox, email: EmailClient, broken: dict, expected: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        email.begin_send({**MESSAGE, **broken})
    assert caught.value.status_code == 400
    assert expected in caught.value.message
    assert sb.emails == []


@pytest.mark.parametrize("status", [429, 500])
def test_faults_surface_without_retries(sb: Sandbox, email: EmailClient, status: int) -> None:
    sb.fail_next("email", status)
    with pytest.raises(HttpResponseError) as caught:
        email.begin_send(MESSAGE)
    assert caught.value.status_code == status
    assert sb.emails == []


def test_default_retry_policy_absorbs_one_500(sb: Sandbox, credential: TokenCredential) -> None:
    sb.fail_next("email", 500)
    client = EmailClient(sb.endpoint, credential)
    assert client.begin_send(MESSAGE).result()["status"] == "Succeeded"
    assert len(sb.emails) == 1


def test_failed_operation_raises_from_result(sb: Sandbox, email: EmailClient) -> None:
    sb.fail_email_operation_next()
    poller = email.begin_send(MESSAGE)
    with pytest.raises(HttpResponseError):
        poller.result()
    assert email.begin_send(MESSAGE).result()["status"] == "Succeeded"
