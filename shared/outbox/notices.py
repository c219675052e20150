"""What a message carries beyond its stored record: the delivery enrichers' additions (rendered, never stored),
and the cause it names, for the one follow-up rule (records.py `follow_up`); and what an enricher replaces a
record by (a webhook alert that is about failed pipelines), recorded through the intake instead of being sent.

A follow-up is made at intake when a later detection names another cause than the message that went out. When
it is due, run history may say (as it did for the first message) that the cause named first still holds: then it
is not sent, and is recorded as silenced with that reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from shared import detectors
from shared.core.budget import Budget
from shared.detectors.base import UPDATE_OF, Detected
from shared.enrich import Enrichers, EnrichmentSubject
from shared.outbox import records as outbox
from shared.outbox.records import OutboxRecord
from shared.outbox.store import IncidentStore

if TYPE_CHECKING:
    from shared.outbox.intake import Intake

log = logging.getLogger(__name__)

NOTES = "_notes"  # payload key of the enrichers' notes, shown at the end of the message
PER_MESSAGE = 20.0  # seconds per message for the enrichers before rendering, by default
PER_CALL = 120.0  # seconds for all messages of one delivery call (a tick), by default
NO_NEWS = "no update: the first message named this cause"


@dataclass(frozen=True)
class Enriching:
    """The delivery's enrichers with their budgets: `per_message` seconds each, within the call's budget."""

    enrichers: Enrichers
    per_message: float
    per_call: float

    def enriched(self, record: OutboxRecord, call_budget: Budget) -> tuple[OutboxRecord, tuple[Detected, ...]]:
        """The record as it is rendered, with what the enrichers add (not stored); and the incidents that replace
        it, when an enricher says so (else none)."""
        subject = EnrichmentSubject(record.kind, record.key, record.payload, record.labels)
        found = self.enrichers.apply(subject, call_budget.within(self.per_message))
        if found.replaced_by is not None:
            return record, found.replaced_by
        if not (found.additions or found.note):
            return record, ()
        payload = {**record.payload, **found.additions, **({NOTES: found.note} if found.note else {})}
        return replace(record, payload=payload), ()


def without_replaced(
    store: IncidentStore,
    intake: Intake,
    records: list[OutboxRecord],
    found: Sequence[tuple[OutboxRecord, tuple[Detected, ...]]],
    now: datetime,
) -> tuple[list[OutboxRecord], list[OutboxRecord], list[str]]:
    """The leased records and their enriched forms, less those an enricher replaced, and the keys of what replaced
    them (for the caller to deliver). The replacements are recorded through the intake first (keyed like the
    scan's, so what the scan recorded is not recorded twice), then the records as replaced: a crash in between
    replaces them again on their next attempt, which the intake's claim makes a no-op."""
    by = {record.key: incidents for record, (_, incidents) in zip(records, found, strict=True) if incidents}
    enriched = [record for record, _ in found]
    if not by:
        return records, enriched, []
    recorded = intake.record([i for incidents in by.values() for i in incidents], now, source="alert delivery")
    outcomes = [outbox.replaced(r, (i.key for i in by[r.key])) for r in records if r.key in by]
    store.replace_batch(outcomes, status_only=True)
    for outcome in outcomes:
        log.info("%s: %s", outcome.key, outcome.last_error)
    kept = [index for index, record in enumerate(records) if record.key not in by]
    return [records[i] for i in kept], [enriched[i] for i in kept], list(recorded.detections)


def named(record: OutboxRecord) -> str:
    """What the message about this (enriched) record names as the cause, by its kind's headline ("" if none)."""
    try:
        headline = detectors.by_kind(record.kind).headline
    except KeyError:
        return ""
    return headline(record.payload) if headline else ""


def no_news(enriched: OutboxRecord) -> bool:
    """A follow-up whose message would name the cause its first message named."""
    update_of = enriched.payload.get(UPDATE_OF)
    return isinstance(update_of, dict) and bool(update_of.get("named")) and update_of["named"] == named(enriched)


def without_no_news(
    store: IncidentStore, records: list[OutboxRecord], enriched: list[OutboxRecord]
) -> tuple[list[OutboxRecord], list[OutboxRecord]]:
    """The leased records (and their enriched forms) less the follow-ups with no news, which are recorded as
    silenced with that reason instead of being sent."""
    stale = {record.key for record in enriched if no_news(record)}
    if not stale:
        return records, enriched
    store.replace_batch([outbox.silenced(r, NO_NEWS) for r in records if r.key in stale])
    log.info("Not sent (%s): %s", NO_NEWS, ", ".join(sorted(stale)))
    return [r for r in records if r.key not in stale], [r for r in enriched if r.key not in stale]
