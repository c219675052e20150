"""Azure Communication Services Email (azure-communication-email EmailClient).

A send is idempotent under its operation id: the id goes out as `Operation-Id` and as OASIS
`Repeatability-Request-Id` with `Repeatability-First-Sent`, so a repeat of the same request within ACS's 5 minutes
(the SDK's own retry after a lost answer, or ours) gets the first answer instead of making a second email. Past
5 minutes ACS answers 412; the outbox then asks for the operation's status (`status`) before sending anything
again, and only a definitive failure leads to a new send under a new id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

API_VERSION = "2025-09-01"  # the SDK's default; also used for the operation status request
RUNNING = "Running"  # accepted by ACS, final status not known yet
SUCCEEDED = "Succeeded"
_FAILED = ("failed", "canceled")


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class SendFailed(Exception):
    """The email was not accepted or not delivered; the outbox retries it later.

    `in_doubt`: ACS may have accepted it all the same (no answer, a 5xx, a 409 "still in progress", a 412 "first
    sent too long ago"): its operation must be checked before the email is sent again."""

    def __init__(self, message: str, *, in_doubt: bool) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt


class AcsEmail:
    def __init__(self, endpoint: str, credential: Any, sender: str, *, retry_total: int = 2,
                 poll_timeout: float = 15) -> None:
        from azure.communication.email import EmailClient

        # Few SDK retries: the outbox retries on a later tick with backoff, so one tick never blocks for minutes.
        self._client = EmailClient(endpoint, credential, retry_total=retry_total, api_version=API_VERSION)
        self._sender = sender
        self._poll_timeout = poll_timeout

    def send(self, email: Email, recipients: tuple[str, ...], operation_id: str, first_sent: datetime, *,
             wait: bool = True) -> str:
        """Send under `operation_id`, first sent at `first_sent` (an operation id is sent once: the outbox asks
        ACS about it before any re-send, and re-sends under a new id; the SDK's own retries of this request carry
        the same headers). Returns SUCCEEDED, or RUNNING when ACS accepted it and its final status is not known
        (not waited for, not finished within the poll timeout, or the poll failed). Raises SendFailed."""
        from azure.core.exceptions import AzureError, HttpResponseError
        from azure.core.polling.base_polling import OperationFailed

        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": address} for address in recipients]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
        }
        headers = {"Repeatability-Request-Id": operation_id,
                   "Repeatability-First-Sent": format_datetime(first_sent.astimezone(UTC), usegmt=True)}
        try:
            poller = self._client.begin_send(message, operation_id=operation_id, headers=headers,
                                             polling=wait, polling_interval=1)
        except HttpResponseError as err:  # a 4xx refusal is definitive; an earlier try may have got through a 5xx
            raise SendFailed(_describe(err), in_doubt=err.status_code in (408, 409, 412) or
                             (err.status_code or 500) >= 500) from err
        except AzureError as err:  # no answer: ACS may have accepted it (also when a retry failed to connect)
            raise SendFailed(_describe(err), in_doubt=True) from err
        if not wait:
            return RUNNING
        try:
            result = poller.result(timeout=self._poll_timeout)
        except AzureError as err:
            if isinstance(err.inner_exception, OperationFailed):  # the operation's own status, not the poll's
                raise SendFailed(f"email operation {operation_id} {poller.status()}", in_doubt=False) from err
            log.warning("Email operation %s was accepted; its status could not be read: %s", operation_id,
                        _describe(err))
            return RUNNING
        status = (result or {}).get("status", "") if poller.done() else RUNNING
        if status.lower() in _FAILED:
            raise SendFailed(f"email operation {operation_id} {status}", in_doubt=False)
        return SUCCEEDED if status == SUCCEEDED else RUNNING

    def status(self, operation_id: str) -> str | None:
        """The operation's status (`GET /emails/operations/{id}`): Running, Succeeded, Failed, ...; None when ACS
        does not know the operation (404: the send never reached it). Raises SendFailed (in doubt)."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", f"/emails/operations/{quote(operation_id, safe='')}",
                              params={"api-version": API_VERSION})
        try:
            response = self._client.send_request(request)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return str(response.json().get("status") or "")
        except (AzureError, ValueError) as err:
            raise SendFailed(f"status of email operation {operation_id}: {_describe(err)}", in_doubt=True) from err


def _describe(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    return f"HTTP {status}: {err}" if status else f"{type(err).__name__}: {err}"
