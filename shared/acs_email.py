"""Azure Communication Services Email (azure-communication-email EmailClient)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class SendFailed(Exception):
    """The email was not accepted or not delivered; the outbox retries it later."""


class AcsEmail:
    def __init__(self, endpoint: str, credential: Any, sender: str, *, retry_total: int = 2,
                 poll_timeout: float = 60) -> None:
        from azure.communication.email import EmailClient

        # Few SDK retries: the outbox retries on a later tick with backoff, so one tick never blocks for minutes.
        self._client = EmailClient(endpoint, credential, retry_total=retry_total)
        self._sender = sender
        self._poll_timeout = poll_timeout
        self.calls = 0

    def send(self, email: Email, recipients: tuple[str, ...], idempotency_key: str) -> str:
        """Send and wait for the operation to finish; returns the operation id. Raises SendFailed."""
        from azure.core.exceptions import AzureError

        message = {
            "senderAddress": self._sender,
            "recipients": {"to": [{"address": address} for address in recipients]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
        }
        # The same key for SDK-level retries of one attempt, so the service can recognise a repeated request.
        operation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key))
        self.calls += 1
        try:
            poller = self._client.begin_send(message, operation_id=operation_id, polling_interval=1)
            result = poller.result(timeout=self._poll_timeout)
        except AzureError as err:
            raise SendFailed(_describe(err)) from err
        if not poller.done():
            raise SendFailed(f"email operation {operation_id} did not finish within {self._poll_timeout:.0f} s")
        status = (result or {}).get("status", "")
        if status != "Succeeded":
            raise SendFailed(f"email operation {operation_id} ended with status {status or 'unknown'}")
        return operation_id


def _describe(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    return f"HTTP {status}: {err}" if status else f"{type(err).__name__}: {err}"
