"""What a message carries beyond its stored record: the delivery enrichers' additions (rendered, never stored),
and the cause it names, for the one follow-up rule (records.py `follow_up`).

A follow-up is made at intake when a later detection names another cause than the message that went out. When
it is due, run history may say (as it did for the first message) that the cause named first still holds: then it
is not sent, and is recorded as silenced with that reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from shared import detectors
from shared.core.budget import Budget
from shared.detectors.base import UPDATE_OF
from shared.enrich import Enrichers, EnrichmentSubject
from shared.outbox import records as outbox
from shared.outbox.records import OutboxRecord
from shared.outbox.store import IncidentStore

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

    def enriched(self, record: OutboxRecord, call_budget: Budget) -> OutboxRecord:
        """The record as it is rendered: with what the enrichers add (not stored)."""
        subject = EnrichmentSubject(record.kind, record.key, record.payload, record.labels)
        found = self.enrichers.apply(subject, call_budget.within(self.per_message))
        if not (found.additions or found.note):
            return record
        payload = {**record.payload, **found.additions, **({NOTES: found.note} if found.note else {})}
        return replace(record, payload=payload)


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
