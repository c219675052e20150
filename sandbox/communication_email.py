"""Azure Communication Services Email (``POST /emails:send`` + ``GET /emails/operations/{id}``).

Sends are accepted at once and their operation is already finished when first polled: ``Succeeded``, or
``Failed`` when a failure was armed. The 202 and the poll answers carry ``retry-after-ms: 10`` rather than
``Retry-After: 0``: azure-core's poller treats a zero Retry-After as "no hint" and falls back to the client's
``polling_interval`` (30 s by default), while the millisecond header is honoured.

Repeatable requests (OASIS, as Microsoft's "Repeatable requests" page for the Communication REST APIs describes):
a send with ``Repeatability-Request-Id`` (a GUID) and ``Repeatability-First-Sent`` (IMF-fixdate) is remembered
for 5 minutes of the sandbox clock. A repeat with the same id and the same request gets the first answer (202
with the first operation, or the first 4xx) and sends nothing; after a 5xx it is executed again; with another
request body it is 400; a first-sent time more than 5 minutes old is 412; a malformed header is 400. Answers
carry ``Repeatability-Result: accepted`` or ``rejected``; a repeat arriving while the first is still being
processed is 409. Armed faults (429, 500) are answered before a request reaches this layer, as a gateway would,
and are not remembered.

``Operation-Id`` alone de-duplicates nothing here: whether ACS does is unverified, so a second send under the
same id makes a second email, the pessimistic assumption.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import ServiceError
from .timeutil import format_datetime

POLL_HINT_HEADERS = {"retry-after-ms": "10"}
REPEATABILITY_WINDOW = timedelta(minutes=5)


class AnswerLost(Exception):
    """The send was accepted, and its answer never reaches the client: the connection is cut (`status` None) or a
    gateway in front answers `status` (504: it timed out waiting for the service) instead of the 202."""

    def __init__(self, operation_id: str, status: int | None) -> None:
        super().__init__(operation_id)
        self.status = status


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


@dataclass
class _Repeatable:
    fingerprint: str
    received: datetime
    answer: dict[str, Any] | None = None
    error: ServiceError | None = None


class Email:
    """Accepted sends and the state of their operations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []
        self._operations: dict[str, dict[str, Any]] = {}
        self._repeatable: dict[str, _Repeatable] = {}
        self._fail_operations = 0
        self._lose_answers: list[int | None] = []
        self.repeats_answered = 0  # repeated requests answered with the first answer (no second email)
        self.status_reads = 0  # GET /emails/operations/{id} answered (polls and checks)
        self.on_accept: Callable[[list[dict[str, Any]]], None] | None = None  # told every email so far, per send

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._sent]

    def fail_operation_next(self, count: int) -> None:
        with self._lock:
            self._fail_operations += count

    def lose_answer_next(self, count: int, status: int | None = None) -> None:
        """The next `count` sends are accepted, and their answers are lost: the connection is cut, or (`status`,
        e.g. 504) a gateway answers that instead."""
        with self._lock:
            self._lose_answers += [status] * count

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()
            self._operations.clear()
            self._repeatable.clear()
            self._fail_operations = 0
            self._lose_answers.clear()
            self.repeats_answered = 0
            self.status_reads = 0

    def send(
        self,
        message: Any,
        operation_id: str | None,
        now: datetime,
        repeatability: tuple[str | None, str | None] = (None, None),
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Accept *message* (202 body and headers); the operation id is the client's ``Operation-Id`` header or
        a new GUID. `repeatability`: the ``Repeatability-Request-Id`` and ``-First-Sent`` headers."""
        if repeatability == (None, None):
            return self._lose_answer(self._accept(message, operation_id, now)), {}
        request_id = self._check_repeatability(*repeatability, now)
        fingerprint = hashlib.sha256(json.dumps([message, operation_id], sort_keys=True).encode()).hexdigest()
        accepted = {"Repeatability-Result": "accepted"}
        with self._lock:
            seen = self._repeatable.get(request_id)
            if seen is not None and now - seen.received > REPEATABILITY_WINDOW:
                seen = None  # no longer tracked
            if seen is not None and seen.fingerprint != fingerprint:
                raise ServiceError(
                    400,
                    "BadRequest",
                    "The request does not match the original request with this Repeatability-Request-Id.",
                    {"Repeatability-Result": "rejected"},
                )
            if seen is not None and seen.answer is None and seen.error is None:
                raise ServiceError(
                    409,
                    "Conflict",
                    "The original request with this Repeatability-Request-Id is still being processed.",
                    accepted,
                )
            if seen is not None and (seen.answer is not None or (seen.error is not None and seen.error.status < 500)):
                self.repeats_answered += 1
                if seen.error is not None:
                    raise seen.error
                return dict(seen.answer or {}), accepted
            self._repeatable[request_id] = entry = _Repeatable(fingerprint, now)
        try:
            entry.answer = self._accept(message, operation_id, now)
        except ServiceError as err:
            entry.error = err
            raise
        return self._lose_answer(entry.answer), accepted

    def _lose_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self._lose_answers:
                return answer
            status = self._lose_answers.pop(0)
        raise AnswerLost(answer["id"], status)

    def _check_repeatability(self, request_id: str | None, first_sent: str | None, now: datetime) -> str:
        rejected = {"Repeatability-Result": "rejected"}
        try:
            uuid.UUID(request_id or "")
            sent_at = parsedate_to_datetime(first_sent or "")
        except (TypeError, ValueError) as exc:
            raise ServiceError(400, "BadRequest", f"Invalid repeatability headers: {exc}", rejected) from exc
        if sent_at.tzinfo is None or now - sent_at > REPEATABILITY_WINDOW:
            raise ServiceError(
                412,
                "PreconditionFailed",
                "The Repeatability-First-Sent header is not within the 5 minute window.",
                rejected,
            )
        return str(request_id)

    def _accept(self, message: Any, operation_id: str | None, now: datetime) -> dict[str, Any]:
        _validate(message)
        operation_id = operation_id or str(uuid.uuid4())
        with self._lock:
            failed = self._fail_operations > 0
            if failed:
                self._fail_operations -= 1
            error = (
                {
                    "code": "EmailDroppedAllRecipientsSuppressed",
                    "message": "Message was not delivered (sandbox-armed failure).",
                }
                if failed
                else None
            )
            status = "Failed" if failed else "Succeeded"
            self._operations[operation_id] = {"id": operation_id, "status": status, "error": error}
            self._sent.append(
                {
                    **message,
                    "operation_id": operation_id,
                    "accepted_at": format_datetime(now),
                    "accepted_wall": time.time(),  # the wall clock, for latencies measured by the benchmarks
                    "status": status,
                }
            )
        if self.on_accept is not None:
            self.on_accept(self.sent)
        return {"id": operation_id, "status": "Running", "error": None}

    def operation(self, operation_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._operations.get(operation_id)
            self.status_reads += 1
        if found is None:
            raise ServiceError(404, "NotFound", f"Operation {operation_id} was not found.")
        return dict(found)
