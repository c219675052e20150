"""Azure Communication Services Email (``POST /emails:send`` + ``GET /emails/operations/{id}``).

Sends are accepted at once and their operation is already finished when first polled: ``Succeeded``, or
``Failed`` when a failure was armed. The 202 and the poll answers carry ``retry-after-ms: 10`` rather than
``Retry-After: 0``: azure-core's poller treats a zero Retry-After as "no hint" and falls back to the client's
``polling_interval`` (30 s by default), while the millisecond header is honoured.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

from .errors import ServiceError
from .timeutil import format_datetime

POLL_HINT_HEADERS = {"retry-after-ms": "10"}


def _validate(message: Any) -> None:
    """The basic checks the service makes before accepting a message (400 otherwise)."""
    if not isinstance(message, dict):
        raise ServiceError(400, "BadRequest", "The request body must be a JSON object.")
    if not message.get("senderAddress"):
        raise ServiceError(400, "BadRequest", "senderAddress is required.")
    recipients = message.get("recipients") or {}
    if not any(recipients.get(kind) for kind in ("to", "cc", "bcc")):
        raise ServiceError(400, "BadRequest", "At least one recipient is required.")
    for kind in ("to", "cc", "bcc"):
        if any(not (r or {}).get("address") for r in recipients.get(kind) or []):
            raise ServiceError(400, "BadRequest", f"Every recipients.{kind} entry needs an address.")
    content = message.get("content") or {}
    if not content.get("subject"):
        raise ServiceError(400, "BadRequest", "content.subject is required.")
    if not (content.get("plainText") or content.get("html")):
        raise ServiceError(400, "BadRequest", "content.plainText or content.html is required.")


class Email:
    """Accepted sends and the state of their operations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []
        self._operations: dict[str, dict[str, Any]] = {}
        self._fail_operations = 0

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._sent]

    def fail_operation_next(self, count: int) -> None:
        with self._lock:
            self._fail_operations += count

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()
            self._operations.clear()
            self._fail_operations = 0

    def send(self, message: Any, operation_id: str | None, now: datetime) -> dict[str, Any]:
        """Accept *message*; the operation id is the client's ``Operation-Id`` header or a new GUID."""
        _validate(message)
        operation_id = operation_id or str(uuid.uuid4())
        with self._lock:
            failed = self._fail_operations > 0
            if failed:
                self._fail_operations -= 1
            error = {"code": "EmailDroppedAllRecipientsSuppressed",
                     "message": "Message was not delivered (sandbox-armed failure)."} if failed else None
            self._operations[operation_id] = {"id": operation_id, "status": "Failed" if failed else "Succeeded",
                                              "error": error}
            self._sent.append({**message, "operation_id": operation_id, "accepted_at": format_datetime(now)})
        return {"id": operation_id, "status": "Running", "error": None}

    def operation(self, operation_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._operations.get(operation_id)
        if found is None:
            raise ServiceError(404, "NotFound", f"Operation {operation_id} was not found.")
        return dict(found)
