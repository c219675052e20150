"""What every detector is made of: the incidents it finds, the windows it reads, its two shapes, and its spec.

Two shapes of Log Analytics detector, each run by its own engine (shared/scans/):

- WINDOW: rows ingested since the last scan (a watermark, with an overlap): what arrived that is wrong
  (a failed run, a risky operation). `WindowDetector.detect(rows)`.
- PERIODIC: a lookback window ending now, no watermark, every tick: what did *not* arrive or did not change (a
  run stuck in Running, a schedule that did not fire). `PeriodicDetector.detect(rows, now)`; or, when one KQL
  query is not enough (ARM's schedules, the outbox's earlier notices, run history's step names), a
  `SourcedDetector` whose inputs a named source gathers (`DetectorSpec.source`, shared/scans/sources/).

Detectors are pure: rows in, `Findings` out; no I/O, no clock (`now` is passed in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from shared.rules import Rules
    from shared.settings import Settings

T = TypeVar("T")


class Shape(StrEnum):
    WINDOW = "window"  # ingestion-window Log Analytics scan (watermark + overlap)
    PERIODIC = "periodic"  # lookback check every tick, no watermark
    METRICS = "metrics"  # Azure Monitor Metrics, one state machine per series (scans/metric_scan.py)
    NONE = "none"  # not scanned: incidents arrive another way (the webhook's alerts)


@dataclass(frozen=True)
class QueryWindow:
    """Rows in (start, end]: by ingestion time for a WINDOW scan, by TimeGenerated for a PERIODIC check;
    TimeGenerated limited to `lookback_start` for speed."""

    start: datetime
    end: datetime
    lookback_start: datetime


@dataclass(frozen=True)
class Detected:
    """An incident as a detector found it, ready for the outbox's intake."""

    key: str  # "<kind>:...": the same incident always has the same key, whoever detects it
    kind: str
    payload: dict[str, Any]  # JSON-ready; the detector's `view` turns it into what a channel renders
    labels: dict[str, str]  # what routes and silences match on (kind, workspace, ...)
    due_at: datetime  # when it may be sent (a group wait), at the earliest


@dataclass(frozen=True)
class Findings:
    """What a detector made of a window's rows: its incidents, and the rows it could not use, by why."""

    incidents: list[Detected]
    skipped: Mapping[str, int] = field(default_factory=dict)  # e.g. {"no TimeGenerated": 2}


class WindowDetector(Protocol):
    @property
    def scan(self) -> str:
        """Names the watermark and history rows and the CLI's `scan NAME`, e.g. "run-failures"."""
        ...

    def query(self, window: QueryWindow) -> str: ...

    def detect(self, rows: list[dict[str, Any]]) -> Findings: ...


class PeriodicDetector(Protocol):
    @property
    def scan(self) -> str: ...

    @property
    def lookback(self) -> timedelta:
        """How far back each check reads (TimeGenerated), ending now."""
        ...

    def query(self, window: QueryWindow) -> str: ...

    def detect(self, rows: list[dict[str, Any]], now: datetime) -> Findings: ...


class SourcedDetector(Protocol):
    """A periodic check over inputs that its source (shared/scans/sources/, named by `DetectorSpec.source`)
    gathers per unit (a Log Analytics or an Azure ML workspace); `detect` stays pure."""

    @property
    def scan(self) -> str: ...

    @property
    def lookback(self) -> timedelta: ...

    def detect(self, inputs: Any, now: datetime) -> Findings: ...


@dataclass(frozen=True)
class DigestLine:
    """How an incident reads in a storm digest, beside its subject: when it really began (not when it was
    recorded), where, one link and the first line of its error. A view returns one as "digest"."""

    at: datetime | None = None
    workspace: str = ""
    link: str | None = None
    error: str = ""


@dataclass(frozen=True)
class ViewOptions:
    """What a view needs beyond the payload."""

    studio_tenant_id: str | None = None  # added to Azure ML studio links (tid=)


View = Callable[[Mapping[str, Any], ViewOptions], dict[str, Any]]
# The payload key of a follow-up (outbox/records.py `follow_up`): {"named": what the first message named}.
UPDATE_OF = "update_of"
# The payload key of the links of the route an incident took (rules.yaml `runbook`, `owner`): [[label, url], ...].
ROUTE_LINKS = "route_links"


@dataclass(frozen=True)
class DetectorSpec:
    """One line of the registry (shared/detectors/__init__.py), after ElastAlert2's rules_mapping + RuleType."""

    kind: str  # incident kind: the outbox partition, the renderer lookup, the `kind` label of routes and silences
    title: str  # plural, for digests and reports: "pipeline failures"
    shape: Shape
    view: View  # payload -> render context, with "subject" (pure): every channel renders from it
    templates: str  # base name of its email templates: run_failure -> run_failure.html.j2 / .txt.j2
    scan: str | None = None  # watermark/history rows and the CLI's `scan NAME`, e.g. "run-failures"
    function: str | None = None  # its function in function_app.py, e.g. "scan_run_failures"
    schedule_setting: str | None = None  # its timer's app setting, e.g. "RUN_FAILURES_SCHEDULE"
    rules_section: str | None = None  # the rules.yaml section it reads, e.g. "run_failures"
    build: Callable[[Rules, Settings], WindowDetector | PeriodicDetector | SourcedDetector] | None = None
    source: str | None = None  # PERIODIC: the source that gathers its inputs (shared/scans/sources/); None: KQL
    # payload -> what a sent message named as its cause (run-failure: the root-cause run id; "" = nothing known):
    # when a later detection names another, one follow-up goes out (outbox/records.py `follow_up`).
    headline: Callable[[Mapping[str, Any]], str] | None = None


_ADAPTERS: dict[type, Any] = {}


def _adapter(cls: type[T]) -> TypeAdapter[T]:
    # Built once per class: building a TypeAdapter costs milliseconds (schema generation), using one microseconds.
    if cls not in _ADAPTERS:
        from pydantic import TypeAdapter

        _ADAPTERS[cls] = TypeAdapter(cls)
    adapter: TypeAdapter[T] = _ADAPTERS[cls]
    return adapter


def to_payload(value: Any) -> dict[str, Any]:
    """A detector's dataclass as the JSON-ready payload stored in the outbox; `from_payload` reads it back."""
    payload: dict[str, Any] = _adapter(type(value)).dump_python(value, mode="json")
    return payload


def from_payload(cls: type[T], payload: Mapping[str, Any]) -> T:
    return _adapter(cls).validate_python(dict(payload))
