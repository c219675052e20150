"""THE ONE DOOR from detection to record: every producer (the log scans, the periodic checks, the metric scan, the
webhook) hands its incidents to `Intake.record`, which routes each one (recipients and channel), claims the new
ones in batches, reads back those that exist, applies the decision table (records.on_detected) and writes with a
compare-and-swap. The store (store.py) only stores; this is the only place a detection becomes a record.

    claim first, in batches of one kind (the usual case: the incidents are new)
    a batch refused because some of its incidents exist: read back (one query per 14 keys), decide one by one
    one the table service refuses (400): reported, stored in its minimal form (an email that names it); the
        others go on (a stored record that cannot be updated is kept as it is)
    anything else (the service is down): raised; the caller reads the same window again next tick
    then, with a queue (`notify`, outbox/queued.py): the new records are put on the notifications queue, each
        visible when it is due; send_notifications sends them (the outbox timer if the message is lost)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from shared import detectors
from shared.azure.entity_bounds import MINIMAL, REDUCED
from shared.azure.tables import Refused, refusal
from shared.detectors.base import ROUTE_LINKS, Detected
from shared.outbox import records
from shared.outbox.records import Detection, OutboxRecord
from shared.outbox.store import IncidentStore
from shared.routing import Destination, Router

log = logging.getLogger(__name__)


@dataclass
class Recorded:
    """What became of a batch of detections."""

    detections: dict[str, Detection] = field(default_factory=dict)  # key -> claim, update or unchanged
    shortened: int = 0  # details cut to fit Table Storage (the message says so)
    not_stored: list[str] = field(default_factory=list)  # refused by the table service: alerted in minimal form
    follow_ups: dict[str, datetime] = field(default_factory=dict)  # key -> due: the one #update of a message out

    @property
    def claimed(self) -> int:
        return sum(detection is Detection.CLAIM for detection in self.detections.values())

    @property
    def updated(self) -> int:
        return sum(detection is Detection.UPDATE for detection in self.detections.values())


# Called with the new records' keys and due times, `now` and the source, after they are stored (NoticeQueue.enqueue).
Notify = Callable[[dict[str, datetime], datetime, str], object]


class Intake:
    def __init__(self, store: IncidentStore, route: Router, notify: Notify | None = None) -> None:
        self._store = store
        self._route = route
        self._notify = notify

    def record(self, detected: Sequence[Detected], now: datetime, *, source: str) -> Recorded:
        """Record these incidents (claim, or update a pending record); `source` names the producer in the log
        ("run-failures scan of <workspace>", "alert_webhook")."""
        copies = (record for incident in detected for record in self._new_records(incident, now))
        fresh = list({record.key: record for record in copies}.values())
        done = Recorded(shortened=sum(REDUCED in r.payload or MINIMAL in r.payload for r in fresh))
        claimed = self._claim(fresh)
        undecided = [record for record in fresh if claimed[record.key] is None]
        if undecided:
            existing = self._store.get_many([record.key for record in undecided])
            claimed.update(self._claim([record for record in undecided if record.key not in existing]))
            for record in undecided:
                if record.key in existing:
                    decide = partial(self._decide, existing[record.key], record, done)
                    done.detections[record.key] = self._isolated(record, done, source, decide, stored=True)
                elif claimed[record.key] is None:  # not there a moment ago: another instance just made it
                    decide = partial(self._record_one, record)
                    done.detections[record.key] = self._isolated(record, done, source, decide, stored=False)
        for record in fresh:
            outcome = claimed[record.key]
            if outcome is True:
                done.detections[record.key] = Detection.CLAIM
            elif isinstance(outcome, Refused):
                done.detections[record.key] = self._not_stored(record, outcome.error, done, source, stored=False)
        if self._notify is not None:
            # An update may make a pending record due sooner (records.on_detected): its message shows then too.
            changed = (Detection.CLAIM, Detection.UPDATE)
            new = {r.key: r.due_at for r in fresh if done.detections.get(r.key) in changed} | done.follow_ups
            if new:
                self._notify(new, now, source)
        return done

    @property
    def store(self) -> IncidentStore:
        return self._store

    @property
    def queued(self) -> bool:
        """Whether what it records is sent through the notifications queue (else the producer sends it)."""
        return self._notify is not None

    def _new_records(self, incident: Detected, now: datetime) -> list[OutboxRecord]:
        """One record per destination of its route: the first under the incident's key, the others as copies."""
        return [
            records.new_record(
                incident.key if position == 0 else records.copy_key(incident.key, destination.target),
                incident.kind,
                {**incident.payload, **_route_links(destination)},
                destination.recipients,
                now,
                incident.due_at,
                labels=incident.labels,
                channel=destination.channel,
            )
            for position, destination in enumerate(self._route(incident.labels))
        ]

    def _claim(self, fresh: list[OutboxRecord]) -> dict[str, bool | Refused | None]:
        claimed: dict[str, bool | Refused | None] = {}
        for kind in sorted({record.kind for record in fresh}):  # a batch holds one kind (one partition)
            same_kind = [record for record in fresh if record.kind == kind]
            claimed.update(zip((r.key for r in same_kind), self._store.create_batch(same_kind), strict=True))
        return claimed

    def _decide(self, existing: OutboxRecord, fresh: OutboxRecord, done: Recorded) -> Detection:
        detection, record = records.on_detected(existing, fresh)
        if record is None:
            self._follow_up(existing, fresh, done)
            return detection
        if self._store.replace(record) is not None:
            return detection
        return self._record_one(fresh)  # changed meanwhile: read again and decide again

    def _follow_up(self, existing: OutboxRecord, fresh: OutboxRecord, done: Recorded) -> None:
        """A message already out named another cause than this detection does: claim its one follow-up."""
        headline = _headline(fresh.kind)
        named = headline(fresh.payload) if headline else ""
        record = records.follow_up(existing, fresh, named)
        if record is not None and self._store.create(record):
            done.follow_ups[record.key] = record.due_at
            log.info(
                "Incident %s now names %s (its email named %s): one follow-up", existing.key, named, existing.named
            )

    def _record_one(self, fresh: OutboxRecord) -> Detection:
        """Claim one incident, or update its pending record (records.on_detected decides)."""
        # Two tries: a lost compare-and-swap means another instance just wrote it; read again and decide again.
        for _ in range(2):
            existing = self._store.get(fresh.key)
            detection, record = records.on_detected(existing, fresh)
            if record is None:
                return detection
            written = (
                self._store.create(record) if detection is Detection.CLAIM else self._store.replace(record) is not None
            )
            if written:
                return detection
        return Detection.UNCHANGED

    def _isolated(
        self, record: OutboxRecord, done: Recorded, source: str, decide: Callable[[], Detection], *, stored: bool
    ) -> Detection:
        """`decide` for one incident; if the table service refuses it, report it and go on with the others."""
        try:
            return decide()
        except Exception as err:
            refused = refusal(err)
            if refused is None:
                raise  # transient (the service is down): the caller fails and reads the window again next tick
            return self._not_stored(record, refused.error, done, source, stored=stored)

    def _not_stored(self, record: OutboxRecord, error: str, done: Recorded, source: str, *, stored: bool) -> Detection:
        """The incident could not be stored: log it and report it. A record stored earlier is kept as it is (and
        sent as it is); otherwise its minimal form (key and labels) is stored, so that on-call still gets a
        message naming it."""
        done.not_stored.append(record.key)
        if stored:
            log.error(
                "%s: incident %s could not be updated (%s); its stored record is kept as it is",
                source,
                record.key,
                error,
            )
            return Detection.UNCHANGED
        log.error(
            "%s: incident %s could not be stored (%s); storing and alerting its minimal form", source, record.key, error
        )
        try:
            return self._record_one(records.minimal_form(record, f"it could not be stored: {error}"))
        except Exception as err:
            refused = refusal(err)
            if refused is None:
                raise
            log.error(
                "Incident %s could not be stored even in its minimal form (%s); it is not alerted",
                record.key,
                refused.error,
            )
            return Detection.UNCHANGED


def _headline(kind: str) -> Callable[[Mapping[str, Any]], str] | None:
    try:
        return detectors.by_kind(kind).headline
    except KeyError:
        return None


def _route_links(destination: Destination) -> dict[str, Any]:
    """The route's runbook and owner links, carried in the payload for the message."""
    return {ROUTE_LINKS: [list(link) for link in destination.links]} if destination.links else {}
