"""The enrichment seam: details added to an incident, best effort, inside a time budget. An enricher that fails or
runs out of time adds a note; it never blocks the message.

    Enricher.enrich(subject, budget) -> Enrichment
        additions      payload keys to add (bounded, JSON-ready)
        note           a line for the message ("step details could not be read: 403 ...")
        replaced_by    incidents that replace the subject (the Log Analytics lookup turns a webhook alert into the
                       failed pipelines it is about, keyed like the scan's; the delivery records them instead)

`Enrichers.apply` runs the enrichers registered for the subject's kind, in order, and never raises; each enricher
keeps to the budget it is given (`Budget.remaining()`) and says in its note what it could not do. The delivery
applies them before rendering (outbox/notices.py): webhook alerts to pipelines (enrich/log_analytics.py), then
Azure ML run history (step names, errors, log tails).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.core.budget import Budget
from shared.detectors.base import Detected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnrichmentSubject:
    kind: str
    key: str
    payload: Mapping[str, Any]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Enrichment:
    additions: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    replaced_by: tuple[Detected, ...] | None = None


class Enricher(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    def enrich(self, subject: EnrichmentSubject, budget: Budget) -> Enrichment: ...


class Enrichers:
    """The enrichers of the delivery, applied in order."""

    def __init__(self, enrichers: Sequence[Enricher] = ()) -> None:
        self._enrichers = list(enrichers)

    def apply(self, subject: EnrichmentSubject, budget: Budget) -> Enrichment:
        additions: dict[str, Any] = {}
        notes: list[str] = []
        for enricher in self._enrichers:
            if subject.kind not in enricher.kinds:
                continue
            try:
                found = enricher.enrich(subject, budget)
            except Exception as err:  # best effort: a bug or an outage in an enricher never blocks the message
                log.warning("Enricher %s failed for %s: %r", enricher.name, subject.key, err)
                notes.append(f"{enricher.name}: details could not be read ({type(err).__name__})")
                continue
            if found.replaced_by is not None:
                return found
            additions.update(found.additions)
            if found.note:
                notes.append(found.note)
        return Enrichment(additions, " ".join(notes))
