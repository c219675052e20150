"""Sending through the `notifications` queue: record, enqueue, answer; `send_notifications` sends elsewhere.

Intake.record stored the incidents  -> enqueue {"keys": [...]}: what is due already in one message, visible
    now; the rest one message per BUCKET of due times, visible at its end (the group wait), so a storm recorded
    by one scan reaches one call and its storm guard (one digest); enqueueing fails -> logged, the outbox timer
    (deliver_due) sends them: the record is the truth, the message only a wake-up call
a message arrives                    -> deliver_named(keys): the outbox's lease and outcome rules (and its storm
    guard over the message's incidents), so a message delivered twice sends once (the second finds them sent,
    or leased by the first)
left in flight (not due yet, a send to retry, an email to confirm) -> a new message for those keys, hidden
    until they are due: the backoff of the outbox's RetryPolicy, through the message's visibility timeout;
    after its last attempt the record is dead (the one retry policy is the outbox's)
the function raised (table service down, a bug) -> the host shows the message again after host.json's
    visibilityTimeout; on its MAX_DEQUEUE_COUNT-th try the incidents it names that are not sent yet are
    recorded `dead` with the error, logged with NOTICE_DEAD, and the host moves it to `notifications-poison`
a body that is not {"keys": [...]}   -> logged as an error and dropped (it names nothing to send)
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.azure.queues import MAX_DEQUEUE_COUNT, NOTIFICATIONS
from shared.core.log_markers import NOTICE_DEAD
from shared.outbox.records import Status

if TYPE_CHECKING:
    from shared.azure.queues import Queues
    from shared.outbox.delivery import DeliveryReport, OutboxDelivery
    from shared.outbox.intake import Notify
    from shared.outbox.store import IncidentStore

log = logging.getLogger(__name__)

# A message holds at most 64 KiB once base64-encoded: about 48 KiB of JSON. As many keys as fit go in one message, so
# that a storm recorded by one scan reaches one send_notifications call and its storm guard (one digest).
MESSAGE_BYTES = 45_000
# Due times within one bucket share a message, shown when the last of them is due: a storm whose incidents come due
# seconds apart (one scan's group waits) reaches one call; none waits more than this beyond its due time.
BUCKET = timedelta(seconds=30)
UNFINISHED = (Status.PENDING, Status.SENDING)


class BadMessage(ValueError):
    pass


def parse_keys(body: bytes) -> list[str]:
    """The incident keys a `notifications` message names; BadMessage says what is wrong with it."""
    try:
        message = json.loads(body)
    except ValueError as err:
        raise BadMessage(f"not JSON: {err}") from None
    keys = message.get("keys") if isinstance(message, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(key, str) and key for key in keys):
        raise BadMessage('expected {"keys": ["<incident key>", ...]}')
    return keys


def notify_through(queues: Queues | None) -> Notify | None:
    """The Intake's `notify`: the notifications queue's enqueue; None without queues (the producers send)."""
    return None if queues is None else NoticeQueue(queues).enqueue


class NoticeQueue:
    """Puts "send these incidents" on the notifications queue (the Intake calls it after recording)."""

    def __init__(self, queues: Queues) -> None:
        self._queues = queues

    def enqueue(self, due: Mapping[str, datetime], now: datetime, source: str) -> bool:
        """The wake-ups for these keys (`wake_ups`). Never raises: the records are stored, and the outbox timer
        sends what no message names; False if a message could not be put."""
        try:
            for delay, keys in wake_ups(due, now):
                self._queues.send(NOTIFICATIONS, {"keys": keys}, delay=delay)
        except Exception as err:
            log.warning("%s: could not enqueue %d incident(s); the outbox timer sends them: %r", source, len(due), err)
            return False
        return True


def wake_ups(due: Mapping[str, datetime], now: datetime) -> list[tuple[timedelta, list[str]]]:
    """(delay, keys) of each message: all that is due already in one, shown now; the rest one per BUCKET of due
    times, shown when the last of them is due (Queues rounds the delay up to a second); each chunked to fit."""
    by_bucket: dict[int, list[str]] = defaultdict(list)
    for key, due_at in due.items():
        by_bucket[max(0, math.ceil((due_at - now) / BUCKET))].append(key)
    return [
        (max(due[key] for key in keys) - now, chunk) for _, keys in sorted(by_bucket.items()) for chunk in _chunks(keys)
    ]


def _chunks(keys: list[str]) -> list[list[str]]:
    """The keys in runs whose JSON stays within MESSAGE_BYTES (a key is at most 512 characters: entity_bounds)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for key in keys:
        length = len(json.dumps(key)) + 1
        if chunks[-1] and size + length > MESSAGE_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += length
    return chunks


def send_notifications(
    body: bytes,
    dequeue_count: int,
    now: datetime,
    *,
    delivery: OutboxDelivery,
    store: IncidentStore,
    notices: NoticeQueue,
) -> DeliveryReport | None:
    """One `notifications` message (its body decoded, the host's dequeue count): send what it names. Raises what
    should be tried again (the host retries, then poisons); None for a body that names nothing."""
    try:
        keys = parse_keys(body)
    except BadMessage as err:
        log.error("send_notifications: dropped a message that names nothing to send (%s): %r", err, body[:200])
        return None
    try:
        report = delivery.deliver_named(keys, now)
    except Exception as err:
        if dequeue_count >= MAX_DEQUEUE_COUNT:
            _give_up(keys, store, now, f"{dequeue_count} tries of its queue message failed: {err!r}")
        raise
    if report.in_flight:
        notices.enqueue(report.in_flight, now, "send_notifications")
    return report


def _give_up(keys: list[str], store: IncidentStore, now: datetime, error: str) -> None:
    """The message's last try: record its unsent incidents as dead, with the error (best effort: with the table
    service down they stay pending, and the outbox timer sends them once it is back)."""
    from dataclasses import replace

    try:
        unfinished = [r for r in store.get_many(keys).values() if r.status in UNFINISHED]
        written = store.replace_batch(
            [replace(r, status=Status.DEAD, last_error=error) for r in unfinished], status_only=True
        )
        dead = [r.key for r in written if r is not None]  # (one another instance changed meanwhile is its own)
    except Exception as err:
        log.error("%s Could not record %s as dead (%r); still pending: %s", NOTICE_DEAD, ", ".join(keys), err, error)
        return
    for key in dead:
        log.error("%s Giving up on %s after %d attempts: %s", NOTICE_DEAD, key, MAX_DEQUEUE_COUNT, error)
