"""ACS Email through the real EmailClient: accepted sends, operation ids, validation, faults, failed operations,
repeatable requests (Repeatability-Request-Id / Repeatability-First-Sent), lost answers."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from azure.communication.email import EmailClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError, ServiceResponseError

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


REQUEST_ID = "5b3f3c39-55cf-4c3c-8c73-1f1f4e0a9a01"


def _repeatable(first_sent: datetime, request_id: str = REQUEST_ID) -> dict:
    return {"Repeatability-Request-Id": request_id,
            "Repeatability-First-Sent": format_datetime(first_sent, usegmt=True)}


def test_a_repeated_request_within_five_minutes_gets_the_first_answer_and_sends_nothing(
        sb: Sandbox, email: EmailClient, clock: datetime) -> None:
    answers: list = []
    hook = {"raw_response_hook": lambda response: answers.append(response.http_response.headers)}
    first = email.begin_send(MESSAGE, operation_id="op-1", headers=_repeatable(clock), polling=False, **hook).result()
    sb.advance(timedelta(minutes=4))
    again = email.begin_send(MESSAGE, operation_id="op-1", headers=_repeatable(clock), polling=False, **hook).result()
    assert first == again and len(sb.emails) == 1 and sb.email.repeats_answered == 1
    assert [headers["Repeatability-Result"] for headers in answers] == ["accepted", "accepted"]


@pytest.mark.parametrize(("change", "status"), [
    ({"first_sent_ago": timedelta(minutes=6)}, 412),  # too old: ACS cannot tell whether it is a repeat
    ({"request_id": "not-a-guid"}, 400),
    ({"message": {**MESSAGE, "content": {"subject": "other", "plainText": "x"}}}, 400),  # same id, other request
])
def test_repeatability_refusals(sb: Sandbox, email: EmailClient, clock: datetime, change: dict, status: int) -> None:
    email.begin_send(MESSAGE, operation_id="op-1", headers=_repeatable(clock), polling=False).result()
    headers = _repeatable(clock - change.get("first_sent_ago", timedelta(0)),
                          change.get("request_id", REQUEST_ID))
    with pytest.raises(HttpResponseError) as caught:
        email.begin_send(change.get("message", MESSAGE), operation_id="op-1", headers=headers, polling=False)
    assert caught.value.status_code == status
    assert len(sb.emails) == 1


def test_a_repeat_after_a_fault_is_executed(sb: Sandbox, email: EmailClient, clock: datetime) -> None:
    sb.fail_next("email", 500)
    with pytest.raises(HttpResponseError):
        email.begin_send(MESSAGE, operation_id="op-1", headers=_repeatable(clock))
    assert email.begin_send(MESSAGE, operation_id="op-1", headers=_repeatable(clock)).result()["status"] == "Succeeded"
    assert len(sb.emails) == 1


def test_status_faults_fail_the_operation_reads_only(sb: Sandbox, email: EmailClient) -> None:
    sb.fail_next("email-status", 500)
    poller = email.begin_send(MESSAGE, operation_id="op-1")
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.status_code == 500 and len(sb.emails) == 1  # accepted; only its status read failed
    assert email.begin_send(MESSAGE, operation_id="op-2").result()["status"] == "Succeeded"


@pytest.mark.parametrize(("status", "error"), [(None, ServiceResponseError), (504, HttpResponseError)])
def test_a_lost_answer_still_sends_the_email(sb: Sandbox, email: EmailClient, status, error) -> None:
    sb.lose_email_answer_next(status=status)
    with pytest.raises(error):
        email.begin_send(MESSAGE, operation_id="op-1")
    [sent] = sb.emails
    assert (sent["operation_id"], sent["status"]) == ("op-1", "Succeeded")
