"""Sends what the outbox says is due: lease, render, send, record the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared import outbox
from shared.acs_email import AcsEmail, Email, SendFailed
from shared.outbox import OutboxRecord, RetryPolicy, Status
from shared.state_tables import StateTables

log = logging.getLogger(__name__)

Renderer = Callable[[OutboxRecord], Email]


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lost_race: int = 0  # another instance leased or finished it first


class OutboxDelivery:
    def __init__(self, state: StateTables, email: AcsEmail, render: Renderer, policy: RetryPolicy) -> None:
        self._state = state
        self._email = email
        self._render = render
        self._policy = policy

    def deliver_due(self, now: datetime) -> DeliveryReport:
        report = DeliveryReport()
        for record in self._state.due_incidents(now):
            self._deliver(record, now, report)
        return report

    def deliver_now(self, keys: list[str], now: datetime) -> DeliveryReport:
        """Send these incidents if they are due (the webhook sends what it just recorded within its request);
        what is not due, or fails, stays in the outbox for `deliver_due`."""
        report = DeliveryReport()
        for key in keys:
            record = self._state.get_incident(key)
            if record is not None and outbox.is_due(record, now):
                self._deliver(record, now, report)
        return report

    def _deliver(self, record: OutboxRecord, now: datetime, report: DeliveryReport) -> None:
        # The lease is a compare-and-swap on the ETag: of two instances, only one sends.
        leased = self._state.replace_incident(outbox.start_attempt(record, now, self._policy))
        if leased is None:
            report.lost_race += 1
            return
        try:
            email = self._render(leased)
        except Exception as err:  # a rendering bug must not wedge the outbox: it ends as dead, with the error
            log.exception("Rendering %s failed", leased.key)
            self._record_failure(leased, now, f"rendering failed: {err!r}", report)
            return
        try:
            self._email.send(email, leased.recipients, idempotency_key=f"{leased.key}#{leased.attempts}")
        except SendFailed as err:
            self._record_failure(leased, now, str(err), report)
            return
        if self._state.replace_incident(outbox.after_success(leased, now)) is None:
            log.warning("Incident %s was sent but its record changed meanwhile", leased.key)
        report.sent += 1
        log.info("Sent %s to %s", leased.key, ", ".join(leased.recipients))

    def _record_failure(self, leased: OutboxRecord, now: datetime, error: str, report: DeliveryReport) -> None:
        failed = outbox.after_failure(leased, now, error, self._policy)
        self._state.replace_incident(failed)
        if failed.status is Status.DEAD:
            report.dead += 1
            log.error("Giving up on %s after %d attempts: %s", failed.key, failed.attempts, error)
        else:
            report.retrying += 1
            log.warning("Send of %s failed (attempt %d), retry at %s: %s",
                        failed.key, failed.attempts, failed.due_at.isoformat(), error)
