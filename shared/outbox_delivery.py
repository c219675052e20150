"""Sends what the outbox says is due: check silences, lease, render, send, record the outcome.

Silences are checked here, at send time (as Alertmanager does), so a silence added by on-call during a storm
also mutes incidents that were already waiting. Past `storm_limit` due emails in one tick, each group of
recipients gets one digest instead of many emails.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared import outbox
from shared.acs_email import AcsEmail, Email, SendFailed
from shared.log_markers import NOTICE_DEAD
from shared.outbox import OutboxRecord, RetryPolicy, Status
from shared.routing import silence_for
from shared.rules import Silence
from shared.state_tables import StateTables

log = logging.getLogger(__name__)

Renderer = Callable[[OutboxRecord], Email]
DigestRenderer = Callable[[list[tuple[OutboxRecord, Email]]], Email]


@dataclass
class DeliveryReport:
    sent: int = 0  # incidents delivered (alone or in a digest)
    emails: int = 0  # emails accepted by ACS
    digests: int = 0
    retrying: int = 0
    dead: int = 0
    silenced: int = 0
    lost_race: int = 0  # another instance leased or finished it first

    def summary(self) -> str:
        digests = f" ({self.digests} digest(s))" if self.digests else ""
        return (f"sent {self.sent} in {self.emails} email(s){digests}, retrying {self.retrying}, dead {self.dead}, "
                f"silenced {self.silenced}")


class OutboxDelivery:
    def __init__(
        self,
        state: StateTables,
        email: AcsEmail,
        render: Renderer,
        render_digest: DigestRenderer,
        policy: RetryPolicy,
        silences: Callable[[datetime], list[Silence]],
        storm_limit: int,
    ) -> None:
        self._state = state
        self._email = email
        self._render = render
        self._render_digest = render_digest
        self._policy = policy
        self._silences = silences
        self._storm_limit = storm_limit

    def deliver_due(self, now: datetime) -> DeliveryReport:
        report = DeliveryReport()
        due = self._state.due_incidents(now)
        if not due:
            return report
        silences = self._silences(now)
        to_send = [record for record in due if not self._silence(record, silences, now, report)]
        if len(to_send) <= self._storm_limit:
            for record in to_send:
                self._deliver([record], now, report)
            return report
        log.warning("Storm guard: %d emails due (limit %d); sending digests", len(to_send), self._storm_limit)
        by_recipients: dict[tuple[str, ...], list[OutboxRecord]] = defaultdict(list)
        for record in to_send:
            by_recipients[record.recipients].append(record)
        for records in by_recipients.values():
            self._deliver(records, now, report)
        return report

    def _silence(self, record: OutboxRecord, silences: list[Silence], now: datetime, report: DeliveryReport) -> bool:
        silence = silence_for(record.labels, silences, now)
        if silence is None:
            return False
        if self._state.replace_incident(outbox.silenced(record, silence.describe())) is not None:
            report.silenced += 1
            log.info("Suppressed %s by %s", record.key, silence.describe())
        return True

    def deliver_now(self, keys: list[str], now: datetime) -> DeliveryReport:
        """Send these incidents if they are due (the webhook sends what it just recorded within its request);
        what is not due, or fails, stays in the outbox for `deliver_due`."""
        report = DeliveryReport()
        silences: list[Silence] | None = None
        for key in keys:
            record = self._state.get_incident(key)
            if record is None or not outbox.is_due(record, now):
                continue
            silences = self._silences(now) if silences is None else silences
            if not self._silence(record, silences, now, report):
                self._deliver([record], now, report)
        return report

    def _deliver(self, records: list[OutboxRecord], now: datetime, report: DeliveryReport) -> None:
        """One email for one record, or one digest for several; the same lease and outcome rules for both."""
        # The lease is a compare-and-swap on each record's ETag (in batches): of two instances, only one sends.
        leases = self._state.replace_incidents(
            [outbox.start_attempt(record, now, self._policy) for record in records], status_only=True)
        leased = [lease for lease in leases if lease is not None]
        report.lost_race += len(leases) - len(leased)
        if not leased:
            return
        try:
            rendered = [(record, self._render(record)) for record in leased]
            email = rendered[0][1] if len(rendered) == 1 else self._render_digest(rendered)
        except Exception as err:  # a rendering bug must not wedge the outbox: it ends as dead, with the error
            log.exception("Rendering %s failed", ", ".join(record.key for record in leased))
            self._record_failures(leased, now, f"rendering failed: {err!r}", report)
            return
        try:
            self._email.send(email, leased[0].recipients, idempotency_key=_idempotency_key(leased))
        except SendFailed as err:
            self._record_failures(leased, now, str(err), report)
            return
        report.emails += 1
        report.digests += len(leased) > 1
        outcomes = self._state.replace_incidents([outbox.after_success(r, now) for r in leased], status_only=True)
        for record, outcome in zip(leased, outcomes, strict=True):
            if outcome is None:
                log.warning("Incident %s was sent but its record changed meanwhile", record.key)
            report.sent += 1
        log.info("Sent %s to %s", ", ".join(r.key for r in leased), ", ".join(leased[0].recipients))

    def _record_failures(self, leased: list[OutboxRecord], now: datetime, error: str, report: DeliveryReport) -> None:
        failures = [outbox.after_failure(record, now, error, self._policy) for record in leased]
        self._state.replace_incidents(failures, status_only=True)
        for failed in failures:
            if failed.status is Status.DEAD:
                report.dead += 1
                log.error("%s Giving up on %s after %d attempts: %s", NOTICE_DEAD, failed.key, failed.attempts, error)
            else:
                report.retrying += 1
                log.warning("Send of %s failed (attempt %d), retry at %s: %s",
                            failed.key, failed.attempts, failed.due_at.isoformat(), error)


def _idempotency_key(records: list[OutboxRecord]) -> str:
    return "|".join(f"{record.key}#{record.attempts}" for record in records)
