"""The notification log: one record per incident, and the small decision table that says whether to send now,
again, or not at all (after Prometheus Alertmanager's notification log).

    detected, no record             -> claim (insert-if-absent; losing the race means another scan owns it)
    detected, pending, changed      -> update the pending record (the email not yet sent shows the latest)
    detected, sending/accepted/sent/dead/silenced -> nothing (one email per incident), except:
    detected, accepted/sent, names another cause -> one follow-up record (key + "#update"), claimed
                                       insert-if-absent: at most one per incident, sent by the same rules
    pending and due, silenced       -> silenced (logged with the silence; never sent)
    leased, an enricher replaced it -> replaced (a webhook alert that is about failed pipelines: those are
                                       recorded instead, keyed like the scan's, and carry the alert in their email)
    pending and due                 -> lease it (status sending, attempts + 1) and record the ACS operation id it
                                       will be sent under (write-ahead), then send
    ACS accepted the send (202)     -> sent when its operation Succeeded within the wait; otherwise accepted (not
                                       polled, or the poll failed): its operation is checked on a later tick
    due with an operation recorded  -> ask ACS for that operation (GET /emails/operations/{id}) before anything
      (accepted, a sender that died    is sent: Succeeded -> sent; Running -> accepted, check later; Failed ->
      after ACS accepted, or a send    failed attempt; unknown to ACS -> it never arrived: send it (new operation);
      with no answer)                  the check fails -> try again later; nothing is sent while in doubt
    accepted, no final status after `confirm_for` -> sent (ACS accepted it; logged)
    send refused (4xx) or operation Failed -> pending, due after exponential backoff (a new operation next time)
    send got no answer (5xx, timeout) -> pending, due after backoff, operation kept: checked before any re-send
    no attempts left                -> dead (logged as an error)

An operation id is deterministic: a hash of the notices an email carries and their attempt number, so one
attempt (and the SDK's retries of it) always uses one id, and `Repeatability-Request-Id` lets ACS answer a
repeated request with its first answer. A digest records its operation on each member; if the members are
grouped differently on a later attempt, each is still checked by the operation it recorded, so a member ACS
already accepted is never sent again in another digest.

Pure functions over `OutboxRecord`; store.py stores records with ETags so that each transition is a
compare-and-swap and two instances never both send. A record names the channel it goes out on (`email` unless a
route says otherwise); "ACS" above is the email channel, and any channel that can be asked about an attempt
(`Channel.can_confirm`) follows the same table.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.azure.entity_bounds import (
    MINIMAL,
    REDUCED,
    PayloadTooLarge,
    bounded_key,
    bounded_labels,
    bounded_recipients,
    fit_payload,
)
from shared.detectors.base import UPDATE_OF
from shared.rules import DEFAULT_CHANNEL


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    ACCEPTED = "accepted"  # ACS accepted the email; its final status is checked on a later tick
    SENT = "sent"
    DEAD = "dead"
    SILENCED = "silenced"
    REPLACED = "replaced"  # by the incidents named in last_error (a webhook alert that is about failed pipelines)


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
    confirm_after: timedelta = timedelta(minutes=1)  # first check of an accepted email's operation
    confirm_for: timedelta = timedelta(hours=1)  # accepted and still no final status: counted as sent

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
    due_at: datetime  # pending: earliest next send; sending: end of the lease; accepted: next check
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None  # when ACS accepted the email (meaningful once accepted or sent)
    labels: dict[str, str] = field(default_factory=dict)  # what silences match on (kind, workspace, ...)
    etag: str | None = None  # the stored version this record was read at
    operation_id: str = ""  # the ACS operation of the last send whose outcome is not known to be a failure
    accepted: bool = False  # ACS accepted that operation (202); its final status may not be known yet
    channel: str = DEFAULT_CHANNEL  # the channel it is sent on (channels/); the route decides
    named: str = ""  # what the message the channel accepted named as the cause (DetectorSpec.headline)
    subject: str = ""  # that message's subject: its follow-up keeps it (mail clients thread by it)

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
    channel: str = DEFAULT_CHANNEL,
) -> OutboxRecord:
    """A pending record, every field bounded to fit Table Storage (shared/azure/entity_bounds.py)."""
    key, labels = bounded_key(key), bounded_labels(labels or {})
    return OutboxRecord(
        key,
        kind,
        bounded_payload(key, payload, labels),
        bounded_recipients(recipients),
        Status.PENDING,
        created_at=now,
        due_at=max(now, due_at),
        labels=labels,
        channel=channel,
    )


def bounded_payload(key: str, payload: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """The payload shortened to fit if it must be; its minimal form if even that does not fit."""
    try:
        return fit_payload(payload)[0]
    except PayloadTooLarge as err:
        return minimal_payload(key, labels, str(err))


def minimal_payload(key: str, labels: Mapping[str, str], reason: str) -> dict[str, Any]:
    """What is left of an incident whose details cannot be stored: enough for an email that names it."""
    return {MINIMAL: {"key": key, "labels": dict(labels), "reason": reason[:2000]}}


COPY_SEPARATOR = "@"  # a copy's key: the incident's key, "@", the target it goes to ("...@teams:ml-oncall")


def copy_key(key: str, target: str) -> str:
    """The key of an incident's copy for one more destination of its route: each destination has its own
    record, so sending, retrying and giving up happen per destination."""
    return f"{key}{COPY_SEPARATOR}{target}"


def incident_key(key: str) -> str:
    """The incident's own key, for a record that is a copy for another destination."""
    return key.split(COPY_SEPARATOR, 1)[0]


def minimal_form(record: OutboxRecord, reason: str) -> OutboxRecord:
    return replace(record, payload=minimal_payload(record.key, record.labels, reason))


def on_detected(existing: OutboxRecord | None, fresh: OutboxRecord) -> tuple[Detection, OutboxRecord | None]:
    """What a scan does with an incident it (re)detected; the record to write, if any."""
    if existing is None:
        return Detection.CLAIM, fresh
    # Keys only the existing record has were added by another source (the webhook's `alert` block): keep them.
    kept = {k: v for k, v in existing.payload.items() if k not in (REDUCED, MINIMAL)}
    payload = bounded_payload(fresh.key, {**kept, **fresh.payload}, fresh.labels)
    if existing.status is Status.PENDING and existing.fingerprint != payload_fingerprint(payload, fresh.recipients):
        # Keep the retry state; a settled incident may become due sooner than the group wait said.
        due_at = min(existing.due_at, fresh.due_at) if existing.attempts == 0 else existing.due_at
        return Detection.UPDATE, replace(existing, payload=payload, recipients=fresh.recipients, due_at=due_at)
    return Detection.UNCHANGED, None


FOLLOW_UP = "#update"  # key suffix of an incident's one follow-up record


def follow_up(existing: OutboxRecord, fresh: OutboxRecord, now_named: str) -> OutboxRecord | None:
    """The one follow-up of a message already out whose cause a later detection names differently (`now_named`,
    from the fresh payload): a pending record under the incident's key + FOLLOW_UP, claimed insert-if-absent by
    the caller, so there is never a second. None when nothing changed, nothing was named, or this is a follow-up."""
    if (
        existing.status not in (Status.ACCEPTED, Status.SENT)
        or not existing.named
        or not now_named
        or now_named == existing.named
        or existing.key.endswith(FOLLOW_UP)
    ):
        return None
    payload = {**fresh.payload, UPDATE_OF: {"named": existing.named, "subject": existing.subject}}
    return replace(
        fresh,
        key=bounded_key(existing.key + FOLLOW_UP),
        payload=bounded_payload(existing.key + FOLLOW_UP, payload, fresh.labels),
        due_at=fresh.created_at,
    )


def is_due(record: OutboxRecord, now: datetime) -> bool:
    return record.status in (Status.PENDING, Status.SENDING, Status.ACCEPTED) and record.due_at <= now


def operation_id(records: Iterable[OutboxRecord]) -> str:
    """The ACS operation id of one email: deterministic for its notices and their attempt numbers."""
    members = "|".join(sorted(f"{record.key}#{record.attempts}" for record in records))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aml-alerts:{members}"))


def start_attempt(record: OutboxRecord, now: datetime, policy: RetryPolicy) -> OutboxRecord:
    """The lease. The caller records the operation the email will be sent under before sending (`with_operation`),
    unless the record already has one: then ACS is asked about that one first. Checking an accepted email is
    not an attempt."""
    return replace(
        record, status=Status.SENDING, due_at=now + policy.lease, attempts=record.attempts + (not record.accepted)
    )


def with_operation(record: OutboxRecord, operation: str) -> OutboxRecord:
    return replace(record, operation_id=operation)


def after_success(record: OutboxRecord, now: datetime) -> OutboxRecord:
    return replace(
        record, status=Status.SENT, sent_at=record.sent_at if record.accepted else now, accepted=True, last_error=""
    )


def after_acceptance(record: OutboxRecord, now: datetime, policy: RetryPolicy) -> OutboxRecord:
    """ACS accepted the email (202) and its final status is not known yet."""
    return replace(
        record, status=Status.ACCEPTED, sent_at=now, accepted=True, due_at=now + policy.confirm_after, last_error=""
    )


def unconfirmed(record: OutboxRecord, now: datetime, policy: RetryPolicy, note: str = "") -> OutboxRecord:
    """Accepted, and still no final status (Running, or the check failed): check again later, less often; after
    `confirm_for` count it as sent (ACS accepted it)."""
    accepted_at = record.sent_at or now
    if now - accepted_at >= policy.confirm_for:
        return replace(
            record,
            status=Status.SENT,
            last_error=f"no final status from ACS after {policy.confirm_for}; {note}".rstrip("; "),
        )
    wait = min(policy.max_delay, max(policy.confirm_after, now - accepted_at))
    return replace(record, status=Status.ACCEPTED, due_at=now + wait, last_error=note)


def silenced(record: OutboxRecord, reason: str) -> OutboxRecord:
    return replace(record, status=Status.SILENCED, last_error=reason)


def replaced(record: OutboxRecord, by: Iterable[str]) -> OutboxRecord:
    return replace(record, status=Status.REPLACED, last_error="replaced by " + ", ".join(by))


def after_failure(
    record: OutboxRecord, now: datetime, error: str, policy: RetryPolicy, *, in_doubt: bool = False
) -> OutboxRecord:
    """A failed attempt. `in_doubt`: ACS may have accepted it (no answer, 5xx, a failed check), so its operation
    stays recorded and is checked before any re-send; otherwise the next attempt sends under a new operation."""
    if not in_doubt:
        record = replace(with_operation(record, ""), accepted=False)
    if record.attempts >= policy.max_attempts:
        return replace(record, status=Status.DEAD, last_error=error)
    return replace(record, status=Status.PENDING, due_at=now + policy.backoff(record.attempts), last_error=error)
