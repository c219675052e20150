"""One Log Analytics scan: watermark -> query -> incidents -> claims -> watermark, workspace by workspace.

    window = (watermark - overlap, now] by ingestion_time(); TimeGenerated limited to the lookback
    rows -> incidents (pure, by the scan's detector: run_failures.py, compute_changes.py)
    each incident: claim (insert-if-absent) or update the pending one (outbox.on_detected)
    watermark := now, only when the result was complete and every incident was recorded

The overlap re-reads recent rows on purpose (records become queryable a little after their ingestion time);
what it returns twice is absorbed by the claim.

One workspace that cannot be read (403, 404, throttled, 5xx, timeout) does not stop the others: it is logged,
reported in the tick's report and the scan history, and keeps its watermark, so the next tick reads its whole
gap. A tick spends at most `ScanPolicy.query_budget` in Log Analytics, retries and their waits included; a
workspace it has no time left for is reported the same way and read next tick.

One incident never blocks the others: its details are bounded to fit Table Storage by construction
(entity_bounds.py), and one the service refuses all the same is stored in its minimal form (an email that names
it) and reported in the log and the scan's history row, while the others are claimed and the watermark moves.
Rows a detector cannot use (a null TimeGenerated) are counted and logged per scan, never dropped silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared import outbox
from shared.entity_bounds import MINIMAL, REDUCED, bounded_text
from shared.log_analytics import LogAnalytics, QueryFailed
from shared.outbox import Detection, OutboxRecord
from shared.routing import Router
from shared.state_tables import Refused, StateTables, refusal

log = logging.getLogger(__name__)

# A tick's time in Log Analytics: well inside the shortest sensible schedule (5 minutes) and the function timeout
# (host.json, 10 minutes), leaving time for the claims and the delivery that follow.
QUERY_BUDGET = timedelta(minutes=2)

@dataclass(frozen=True)
class QueryWindow:
    """Rows ingested in (start, end]; TimeGenerated limited to the lookback for speed."""

    start: datetime
    end: datetime
    lookback_start: datetime


@dataclass(frozen=True)
class Detected:
    """An incident as a detector found it, ready for the outbox."""

    key: str
    kind: str
    payload: dict[str, Any]
    labels: dict[str, str]
    due_at: datetime  # when it may be sent (a group wait), at the earliest


@dataclass(frozen=True)
class Findings:
    """What a detector made of a window's rows: its incidents, and the rows it could not use, by why."""

    incidents: list[Detected]
    skipped: Mapping[str, int] = field(default_factory=dict)  # e.g. {"no TimeGenerated": 2}


class Detector(Protocol):
    scan: str  # names the watermark and history rows, e.g. "run-failures"

    def query(self, window: QueryWindow) -> str: ...

    def detect(self, rows: list[dict[str, Any]]) -> Findings: ...


@dataclass(frozen=True)
class ScanPolicy:
    workspace_ids: tuple[str, ...]
    overlap: timedelta
    lookback: timedelta
    first_lookback: timedelta
    route: Router
    query_budget: timedelta = QUERY_BUDGET


@dataclass
class WorkspaceScan:
    workspace_id: str
    window: QueryWindow
    rows: int = 0
    incidents: list[Detected] = field(default_factory=list)
    claimed: int = 0
    updated: int = 0
    complete: bool = True
    seconds: float = 0.0
    error: str = ""  # no answer (HTTP status and the service's message, or no time left): nothing was read
    absent_tables: tuple[str, ...] = ()  # tables the service said do not exist in this workspace yet
    skipped: Mapping[str, int] = field(default_factory=dict)  # rows the detector could not use, by why
    shortened: int = 0  # incidents whose details were cut to fit Table Storage (the email says so)
    not_stored: list[str] = field(default_factory=list)  # refused by the table service: alerted in minimal form

    @property
    def outcome(self) -> str:
        return "failed" if self.error else "complete" if self.complete else "partial"

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())

    def history(self) -> dict[str, Any]:
        """The facts of the scan's history row beyond its window."""
        return {"Rows": self.rows, "Incidents": len(self.incidents), "Claimed": self.claimed,
                "Updated": self.updated, "Complete": self.complete, "Seconds": round(self.seconds, 3),
                "Outcome": self.outcome, "Error": self.error, "AbsentTables": ", ".join(self.absent_tables),
                "SkippedRows": self.skipped_rows, "Shortened": self.shortened, "NotStored": len(self.not_stored),
                **({"NotStoredKeys": bounded_text("\n".join(self.not_stored), 8000)} if self.not_stored else {})}


class LogScan:
    def __init__(self, detector: Detector, logs: LogAnalytics, state: StateTables, policy: ScanPolicy) -> None:
        self.detector = detector
        self._logs = logs
        self._state = state
        self._policy = policy

    def window(self, workspace_id: str, now: datetime, since: timedelta | None = None) -> QueryWindow:
        watermark = None if since is not None else self._state.get_watermark(self.detector.scan, workspace_id)
        return self._window(now, watermark, since)

    def _window(self, now: datetime, watermark: datetime | None, since: timedelta | None) -> QueryWindow:
        start = now - since if since is not None else (watermark or now - self._policy.first_lookback) - (
            self._policy.overlap)
        return QueryWindow(start=start, end=now, lookback_start=min(start, now - self._policy.lookback))

    def find(self, workspace_id: str, window: QueryWindow, deadline: float | None = None) -> WorkspaceScan:
        """Query and detect, without touching state (the CLI's --dry-run uses this alone). A query that gets no
        answer by `deadline` (time.monotonic(); default: the policy's budget from now) gives a failed WorkspaceScan
        (`error`), not an exception."""
        started = time.perf_counter()
        if deadline is None:
            deadline = time.monotonic() + self._policy.query_budget.total_seconds()
        try:
            result = self._logs.query(workspace_id, self.detector.query(window), window.lookback_start, window.end,
                                      deadline)
        except QueryFailed as err:
            # No access or no such workspace needs a person (role assignment, LOG_ANALYTICS_WORKSPACE_IDS); the rest
            # (throttling, 5xx, timeouts) usually passes by the next tick.
            level = logging.ERROR if err.status in (401, 403, 404) else logging.WARNING
            log.log(level, "%s: Log Analytics workspace %s not read, the next tick reads it again: %s",
                    self.detector.scan, workspace_id, err.reason)
            return WorkspaceScan(workspace_id, window, complete=False, error=err.reason,
                                 seconds=time.perf_counter() - started)
        findings = self.detector.detect(result.rows)
        if findings.skipped:
            log.warning("%s scan of %s: skipped %s", self.detector.scan, workspace_id,
                        ", ".join(f"{n} row(s) with {why}" for why, n in sorted(findings.skipped.items())))
        return WorkspaceScan(
            workspace_id, window, rows=len(result.rows), incidents=findings.incidents, complete=result.complete,
            seconds=time.perf_counter() - started, absent_tables=result.absent_tables, skipped=dict(findings.skipped),
        )

    def run(self, now: datetime, since: timedelta | None = None) -> list[WorkspaceScan]:
        """One tick over every workspace. A replay (`since`) claims what it finds but leaves the watermark."""
        deadline = time.monotonic() + self._policy.query_budget.total_seconds()
        scans = []
        for workspace_id in self._policy.workspace_ids:
            watermark = None if since is not None else self._state.get_watermark(self.detector.scan, workspace_id)
            window = self._window(now, watermark, since)
            scan = self.find(workspace_id, window, deadline)
            if scan.error and since is None and watermark is None:
                # Its very first scan: hold where it started, so the gap is read once the workspace answers.
                self._state.set_watermark(self.detector.scan, workspace_id, window.start + self._policy.overlap)
            self._record_all(scan, now)
            if scan.complete and since is None:
                self._state.set_watermark(self.detector.scan, workspace_id, window.end)
            self._state.record_scan(self.detector.scan, workspace_id, now, WindowStart=window.start,
                                    WindowEnd=window.end, **scan.history())
            scans.append(scan)
        return scans

    def _record_all(self, scan: WorkspaceScan, now: datetime) -> None:
        """Claim first, in batches (the usual case: the incidents are new); a batch refused because some of its
        incidents already exist is read back (one query per 14 keys) and decided incident by incident. An
        incident the table service refuses is reported and stored in its minimal form; the rest go on."""
        fresh = list({
            incident.key: outbox.new_record(
                incident.key, incident.kind, incident.payload, self._policy.route(incident.labels), now,
                incident.due_at, labels=incident.labels,
            )
            for incident in scan.incidents
        }.values())
        scan.shortened = sum(REDUCED in record.payload or MINIMAL in record.payload for record in fresh)
        detections: dict[str, Detection] = {}
        claimed = self._claim(fresh)
        undecided = [record for record in fresh if claimed[record.key] is None]
        if undecided:
            existing = self._state.get_incidents([record.key for record in undecided])
            new = [record for record in undecided if record.key not in existing]
            claimed.update(self._claim(new))
            for record in undecided:
                if record.key in existing:
                    detections[record.key] = self._isolated(
                        record, scan, lambda r=record: self._decide(existing[r.key], r), stored=True)
                elif claimed[record.key] is None:  # not there a moment ago: another instance just made it
                    detections[record.key] = self._isolated(
                        record, scan, lambda r=record: self._state.record_detected(r), stored=False)
        for record in fresh:
            outcome = claimed[record.key]
            if outcome is True:
                detections[record.key] = Detection.CLAIM
            elif isinstance(outcome, Refused):
                detections[record.key] = self._not_stored(record, outcome.error, scan, stored=False)
        scan.claimed = sum(detection is Detection.CLAIM for detection in detections.values())
        scan.updated = sum(detection is Detection.UPDATE for detection in detections.values())

    def _claim(self, records: list[OutboxRecord]) -> dict[str, bool | Refused | None]:
        claimed: dict[str, bool | Refused | None] = {}
        for kind in sorted({record.kind for record in records}):  # a batch holds one kind (one partition)
            same_kind = [record for record in records if record.kind == kind]
            claimed.update(zip((r.key for r in same_kind), self._state.claim_incidents(same_kind), strict=True))
        return claimed

    def _decide(self, existing: OutboxRecord, fresh: OutboxRecord) -> Detection:
        detection, record = outbox.on_detected(existing, fresh)
        if record is None:
            return detection
        if self._state.replace_incident(record) is not None:
            return detection
        return self._state.record_detected(fresh)  # changed meanwhile: read again and decide again

    def _isolated(self, record: OutboxRecord, scan: WorkspaceScan, decide: Callable[[], Detection], *,
                  stored: bool) -> Detection:
        """`decide` for one incident; if the table service refuses it, report it and go on with the others."""
        try:
            return decide()
        except Exception as err:
            refused = refusal(err)
            if refused is None:
                raise  # transient (the service is down): the scan fails and the next tick reads the window again
            return self._not_stored(record, refused.error, scan, stored=stored)

    def _not_stored(self, record: OutboxRecord, error: str, scan: WorkspaceScan, *, stored: bool) -> Detection:
        """The incident could not be stored: log it and report it in the scan's history. A record stored earlier
        is kept as it is (and sent as it is); otherwise its minimal form (key and labels) is stored, so that
        on-call still gets an email naming it."""
        scan.not_stored.append(record.key)
        if stored:
            log.error("%s scan of %s: incident %s could not be updated (%s); its stored record is kept as it is",
                      self.detector.scan, scan.workspace_id, record.key, error)
            return Detection.UNCHANGED
        log.error("%s scan of %s: incident %s could not be stored (%s); storing and alerting its minimal form",
                  self.detector.scan, scan.workspace_id, record.key, error)
        try:
            return self._state.record_detected(outbox.minimal_form(record, f"it could not be stored: {error}"))
        except Exception as err:
            refused = refusal(err)
            if refused is None:
                raise
            log.error("Incident %s could not be stored even in its minimal form (%s); it is not alerted",
                      record.key, refused.error)
            return Detection.UNCHANGED
