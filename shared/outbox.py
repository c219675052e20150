"""The notification log: one record per incident, and the small decision table that says whether to send now,
again, or not at all (after Prometheus Alertmanager's notification log).

    detected, no record             -> claim (insert-if-absent; losing the race means another scan owns it)
    detected, pending, changed      -> update the pending record (the email not yet sent shows the latest)
    detected, sending/sent/dead/silenced -> nothing (one email per incident)
    pending and due, silenced       -> silenced (logged with the silence; never sent)
    pending and due                 -> lease it (status sending, attempts + 1), then send
    sending and lease expired       -> the sender died mid-send: due again
    send succeeded                  -> sent
    send failed, attempts left      -> pending, due after exponential backoff
    send failed, no attempts left   -> dead (logged as an error)

Pure functions over `OutboxRecord`; state_tables.py stores records with ETags so that each transition is a
compare-and-swap and two instances never both send.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    SILENCED = "silenced"


class Detection(StrEnum):
    CLAIM = "claim"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=60)
    max_delay: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)  # longer than one send with its polling takes

    def backoff(self, attempts: int) -> timedelta:
        return min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class OutboxRecord:
    key: str  # e.g. "run-failure:<workspace>:<pipeline run id>"
    kind: str  # which template renders `payload`
    payload: dict[str, Any]  # the incident, JSON-ready
    recipients: tuple[str, ...]
    status: Status
    created_at: datetime
    due_at: datetime  # pending: earliest next send; sending: end of the lease
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)  # what silences match on (kind, workspace, ...)
    etag: str | None = None  # the stored version this record was read at

    @property
    def fingerprint(self) -> str:
        return payload_fingerprint(self.payload, self.recipients)


def payload_fingerprint(payload: dict[str, Any], recipients: tuple[str, ...]) -> str:
    canonical = json.dumps([payload, sorted(recipients)], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_record(
    key: str,
    kind: str,
    payload: dict[str, Any],
    recipients: tuple[str, ...],
    now: datetime,
    due_at: datetime,
    *,
    labels: dict[str, str] | None = None,
) -> OutboxRecord:
    return OutboxRecord(
        key, kind, payload, recipients, Status.PENDING, created_at=now, due_at=max(now, due_at), labels=labels or {}
    )


def on_detected(existing: OutboxRecord | None, fresh: OutboxRecord) -> tuple[Detection, OutboxRecord | None]:
    """What a scan does with an incident it (re)detected; the record to write, if any."""
    if existing is None:
        return Detection.CLAIM, fresh
    # Keys only the existing record has were added by another source (the webhook's `alert` block): keep them.
    payload = {**existing.payload, **fresh.payload}
    if existing.status is Status.PENDING and existing.fingerprint != payload_fingerprint(payload, fresh.recipients):
        # Keep the retry state; a settled incident may become due sooner than the group wait said.
        due_at = min(existing.due_at, fresh.due_at) if existing.attempts == 0 else existing.due_at
        return Detection.UPDATE, replace(existing, payload=payload, recipients=fresh.recipients, due_at=due_at)
    return Detection.UNCHANGED, None


def is_due(record: OutboxRecord, now: datetime) -> bool:
    return record.status in (Status.PENDING, Status.SENDING) and record.due_at <= now


def start_attempt(record: OutboxRecord, now: datetime, policy: RetryPolicy) -> OutboxRecord:
    return replace(record, status=Status.SENDING, attempts=record.attempts + 1, due_at=now + policy.lease)


def after_success(record: OutboxRecord, now: datetime) -> OutboxRecord:
    return replace(record, status=Status.SENT, sent_at=now, last_error="")


def silenced(record: OutboxRecord, reason: str) -> OutboxRecord:
    return replace(record, status=Status.SILENCED, last_error=reason)


def after_failure(record: OutboxRecord, now: datetime, error: str, policy: RetryPolicy) -> OutboxRecord:
    if record.attempts >= policy.max_attempts:
        return replace(record, status=Status.DEAD, last_error=error)
    return replace(record, status=Status.PENDING, due_at=now + policy.backoff(record.attempts), last_error=error)
