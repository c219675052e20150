"""Sends what the outbox says is due: check silences, lease, enrich, render on the record's channel, send,
record the outcome. Holds the channels by name (channel.py is their interface).

Silences are checked here, at send time (as Alertmanager does), so a silence added by on-call during a storm
also mutes incidents that were already waiting. Past `storm_limit` due messages in one tick for one group of
recipients of one channel, that group gets one digest instead of many; a group below the limit gets each one.

A message is sent under an operation id recorded in its incidents before the send. An incident that is due
with an operation recorded (the channel accepted it and the final status is not known yet, or an attempt ended
without a recorded outcome: the instance died, the answer was lost) is never simply sent again on a channel that
can be asked (ACS Email): it is asked for that operation first, once per operation (a digest's members share
one), and only an operation it does not know or that Failed leads to a new send (records.py has the whole
decision table). On a channel that cannot be asked, such an attempt is sent again (at least once).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.core.budget import Budget
from shared.core.log_markers import NOTICE_DEAD
from shared.enrich import Enrichers
from shared.outbox import notices
from shared.outbox import records as outbox
from shared.outbox.channel import SUCCEEDED, Channel, SendFailed
from shared.outbox.intake import Intake
from shared.outbox.records import OutboxRecord, RetryPolicy, Status
from shared.outbox.settle import by_operation, settle
from shared.outbox.store import IncidentStore
from shared.rules import Silence
from shared.silences import silence_for

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0  # incidents in emails ACS accepted in this call (alone or in a digest)
    emails: int = 0  # emails accepted by ACS
    digests: int = 0
    awaiting: int = 0  # of the incidents sent, those whose final status is checked on a later tick
    confirmed: int = 0  # accepted earlier; ACS now says delivered (Succeeded)
    retrying: int = 0
    dead: int = 0
    silenced: int = 0
    replaced: int = 0  # webhook alerts that turned out to be failed pipelines (recorded and sent as those)
    # Left in flight by this call, key -> when due: named records not due yet, sends to retry or confirm later.
    in_flight: dict[str, datetime] = field(default_factory=dict)

    def summary(self) -> str:
        digests = f" ({self.digests} digest(s))" if self.digests else ""
        awaiting = f", {self.awaiting} awaiting ACS's final status" if self.awaiting else ""
        confirmed = f", {self.confirmed} confirmed" if self.confirmed else ""
        replaced = f", {self.replaced} alert(s) replaced by their pipelines" if self.replaced else ""
        return (
            f"sent {self.sent} in {self.emails} email(s){digests}{awaiting}{confirmed}, retrying "
            f"{self.retrying}, dead {self.dead}, silenced {self.silenced}{replaced}"
        )


@dataclass
class _Call:
    """One deliver_due / deliver_named call: its `now`, its report, and whether sends wait for the final status."""

    now: datetime
    report: DeliveryReport
    wait: bool
    started: float = field(default_factory=time.monotonic)
    enrichment: Budget = field(default_factory=lambda: Budget(notices.PER_CALL))  # the per-tick cap
    replacements: list[str] = field(default_factory=list)  # keys recorded in place of sent records: sent next

    def clock(self) -> datetime:
        """`now` moved on by the wall time the call has taken: when a request really leaves, on the caller's
        clock (Azure's in production, the sandbox's in tests and the simulation)."""
        return self.now + timedelta(seconds=time.monotonic() - self.started)


class OutboxDelivery:
    def __init__(
        self,
        store: IncidentStore,
        channels: Mapping[str, Channel[Any]],
        policy: RetryPolicy,
        silences: Callable[[datetime], list[Silence]],
        storm_limit: int,
        intake: Intake,
        enrichers: Enrichers | None = None,
        enrichment_seconds: tuple[float, float] = (notices.PER_MESSAGE, notices.PER_CALL),
    ) -> None:
        """`intake` records what an enricher replaces a record by (notices.without_replaced)."""
        self._store = store
        self._intake = intake
        self._channels = channels
        self._policy = policy
        self._silences = silences
        self._storm_limit = storm_limit
        # (per message, per call): a tick of 100 failed pipelines spends at most the second on enrichment.
        self._enriching = notices.Enriching(enrichers or Enrichers(), *enrichment_seconds)

    def deliver_due(self, now: datetime) -> DeliveryReport:
        """Send everything that is due (the outbox timer: the safety net for anything whose queue message was
        lost), waiting for each email's final status."""
        call = _Call(now, DeliveryReport(), wait=True, enrichment=Budget(self._enriching.per_call))
        self._deliver_all(self._store.due(now), call)
        return call.report

    def deliver_named(self, keys: list[str], now: datetime, enrichment: Budget | None = None) -> DeliveryReport:
        """Send these incidents if they are due (a queue message names them: send_notifications, or the webhook
        when the storage has no queues), by the rules of `deliver_due` (the storm guard over the message's own
        incidents): a record already sent, or leased by another instance, is left alone, so a message delivered
        twice sends once. Returns once the channel has accepted each message, without polling for its final
        status (a later wake-up, or `deliver_due`, confirms it). What is left in flight (not due yet, a send to
        retry, an email to confirm) is in the report's `in_flight`. `enrichment`: the caller's budget for the
        enrichers (the webhook's request has less than a tick)."""
        call = _Call(now, DeliveryReport(), wait=False, enrichment=enrichment or Budget(self._enriching.per_call))
        named = self._store.get_in_flight(list(dict.fromkeys(keys))).values()
        call.report.in_flight.update((r.key, r.due_at) for r in named if r.due_at > now)
        self._deliver_all([record for record in named if outbox.is_due(record, now)], call)
        return call.report

    def _deliver_all(self, due: list[OutboxRecord], call: _Call) -> None:
        self._deliver_due_records(due, call)
        if call.replacements:  # what webhook alerts turned out to be is sent by this call too, when it is due
            keys, call.replacements = call.replacements, []
            named = self._store.get_many(keys).values()
            self._deliver_due_records([record for record in named if outbox.is_due(record, call.now)], call)

    def _deliver_due_records(self, due: list[OutboxRecord], call: _Call) -> None:
        if not due:
            return
        now = call.now
        # Messages that may be out already are settled by their own operation, never folded into a new digest.
        for records in by_operation([record for record in due if record.operation_id]).values():
            self._deliver(records, call)
        silences = self._silences(now)
        to_send = [
            record
            for record in due
            if not record.operation_id and not self._silence(record, silences, now, call.report)
        ]
        # The storm limit is per group of recipients (of one channel): a team below it gets each message on its own
        # while another team's storm is folded into one digest.
        by_destination: dict[tuple[str, tuple[str, ...]], list[OutboxRecord]] = defaultdict(list)
        for record in to_send:
            by_destination[(record.channel, record.recipients)].append(record)
        for (channel, recipients), records in by_destination.items():
            if len(records) <= self._storm_limit:
                for record in records:
                    self._deliver([record], call)
                continue
            log.warning(
                "Storm guard: %d messages due for %s on %s (limit %d); sending one digest",
                len(records),
                ", ".join(recipients),
                channel,
                self._storm_limit,
            )
            self._deliver(records, call)

    def _silence(self, record: OutboxRecord, silences: list[Silence], now: datetime, report: DeliveryReport) -> bool:
        silence = silence_for(record.labels, silences, now)
        if silence is None:
            return False
        if self._store.replace(outbox.silenced(record, silence.describe())) is not None:
            report.silenced += 1
            log.info("Suppressed %s by %s", record.key, silence.describe())
        return True

    def _deliver(self, records: list[OutboxRecord], call: _Call) -> None:
        """One message for one record, or one digest for several; the same lease and outcome rules for both.
        Records with an operation recorded are first settled by asking the channel; only those it never got are
        sent."""
        # The lease is a compare-and-swap on each record's ETag (in batches): of two instances, only one sends.
        # It also records, before anything is sent, the operation the message goes out under.
        now = call.now
        leases = [outbox.start_attempt(record, now, self._policy) for record in records]
        operation = outbox.operation_id(leases)
        leases = [lease if lease.operation_id else outbox.with_operation(lease, operation) for lease in leases]
        leased = [lease for lease in self._store.replace_batch(leases, status_only=True) if lease is not None]
        recorded = {record.key for record in records if record.operation_id}
        to_send = [lease for lease in leased if lease.key not in recorded]
        outcomes, never_arrived = settle(
            self._channels, self._policy, [lease for lease in leased if lease.key in recorded], now
        )
        self._record_outcomes(outcomes, call.report)
        to_send += never_arrived
        if to_send:
            self._send(to_send, operation, call)

    def _send(self, records: list[OutboxRecord], operation: str, call: _Call) -> None:
        now, report = call.now, call.report
        moved = [record for record in records if record.operation_id != operation]
        if moved:  # the channel never got their earlier operation: record the new one before sending under it
            written = self._store.replace_batch([outbox.with_operation(r, operation) for r in moved], status_only=True)
            updated = {record.key: record for record in written if record is not None}
            records = [updated.get(r.key, r) for r in records if r.operation_id == operation or r.key in updated]
            if not records:
                return
        channel = self._channels[records[0].channel]
        found = [self._enriching.enriched(record, call.enrichment) for record in records]
        count = len(records)
        records, enriched, replacements = notices.without_replaced(self._store, self._intake, records, found, now)
        report.replaced += count - len(records)
        call.replacements += replacements
        records, enriched = notices.without_no_news(self._store, records, enriched)
        if not records:
            return
        try:
            message = channel.render(enriched)
        except Exception as err:  # a rendering bug must not wedge the outbox: it ends as dead, with the error
            log.exception("Rendering %s failed", ", ".join(record.key for record in records))
            self._record_outcomes(
                [outbox.after_failure(r, now, f"rendering failed: {err!r}", self._policy) for r in records], report
            )
            return
        try:
            status = channel.send(message, records[0].recipients, operation, call.clock(), wait=call.wait)
        except SendFailed as err:
            in_doubt = err.in_doubt and channel.can_confirm  # one that cannot be asked is sent again
            self._record_outcomes(
                [outbox.after_failure(r, now, str(err), self._policy, in_doubt=in_doubt) for r in records], report
            )
            return
        report.emails += 1
        report.digests += len(records) > 1
        report.sent += len(records)
        report.awaiting += len(records) * (status != SUCCEEDED)
        outcomes = [
            replace(
                outbox.after_success(r, now) if status == SUCCEEDED else outbox.after_acceptance(r, now, self._policy),
                named=notices.named(message_record),
                subject=str(getattr(message, "subject", "")),
            )
            for r, message_record in zip(records, enriched, strict=True)
        ]
        report.in_flight.update((o.key, o.due_at) for o in outcomes if o.status is Status.ACCEPTED)
        for record, outcome in zip(records, self._store.replace_batch(outcomes, status_only=True), strict=True):
            if outcome is None:
                log.warning("Incident %s was sent but its record changed meanwhile", record.key)
        log.info(
            "Sent %s to %s (operation %s, %s)",
            ", ".join(r.key for r in records),
            ", ".join(records[0].recipients),
            operation,
            status,
        )

    def _record_outcomes(self, outcomes: list[OutboxRecord], report: DeliveryReport) -> None:
        self._store.replace_batch(outcomes, status_only=True)
        report.in_flight.update((o.key, o.due_at) for o in outcomes if o.status in (Status.PENDING, Status.ACCEPTED))
        for outcome in outcomes:
            if outcome.status is Status.SENT:
                report.confirmed += 1
                if outcome.last_error:
                    log.warning("Counting %s as sent: %s", outcome.key, outcome.last_error)
            elif outcome.status is Status.DEAD:
                report.dead += 1
                log.error(
                    "%s Giving up on %s after %d attempts: %s",
                    NOTICE_DEAD,
                    outcome.key,
                    outcome.attempts,
                    outcome.last_error,
                )
            elif outcome.status is Status.PENDING:
                report.retrying += 1
                log.warning(
                    "Send of %s failed (attempt %d), retry at %s: %s",
                    outcome.key,
                    outcome.attempts,
                    outcome.due_at.isoformat(),
                    outcome.last_error,
                )
            elif outcome.last_error:  # accepted, final status still unknown
                log.warning("Final status of %s not known yet: %s", outcome.key, outcome.last_error)
