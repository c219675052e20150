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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared import outbox
from shared.log_analytics import LogAnalytics, QueryFailed
from shared.log_markers import SCAN_FAILED
from shared.outbox import Detection, OutboxRecord
from shared.routing import Router
from shared.state_tables import StateTables

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


class Detector(Protocol):
    scan: str  # names the watermark and history rows, e.g. "run-failures"

    def query(self, window: QueryWindow) -> str: ...

    def incidents(self, rows: list[dict[str, Any]]) -> list[Detected]: ...


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

    @property
    def outcome(self) -> str:
        return "failed" if self.error else "complete" if self.complete else "partial"


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
            log.log(level, "%s %s: Log Analytics workspace %s not read, the next tick reads it again: %s",
                    SCAN_FAILED, self.detector.scan, workspace_id, err.reason)
            return WorkspaceScan(workspace_id, window, complete=False, error=err.reason,
                                 seconds=time.perf_counter() - started)
        return WorkspaceScan(
            workspace_id, window, rows=len(result.rows), incidents=self.detector.incidents(result.rows),
            complete=result.complete, seconds=time.perf_counter() - started, absent_tables=result.absent_tables,
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
            for detection in self._record_all(scan.incidents, now):
                scan.claimed += detection is Detection.CLAIM
                scan.updated += detection is Detection.UPDATE
            if scan.complete and since is None:
                self._state.set_watermark(self.detector.scan, workspace_id, window.end)
            self._state.record_scan(
                self.detector.scan, workspace_id, now, WindowStart=window.start, WindowEnd=window.end,
                Rows=scan.rows, Incidents=len(scan.incidents), Claimed=scan.claimed, Updated=scan.updated,
                Complete=scan.complete, Seconds=round(scan.seconds, 3), Outcome=scan.outcome, Error=scan.error,
                AbsentTables=", ".join(scan.absent_tables),
            )
            scans.append(scan)
        return scans

    def _record_all(self, incidents: list[Detected], now: datetime) -> list[Detection]:
        """Claim first, in batches (the usual case: the incidents are new); a batch refused because some of its
        incidents already exist is read back (one query per 14 keys) and decided incident by incident."""
        fresh = list({
            incident.key: outbox.new_record(
                incident.key, incident.kind, incident.payload, self._policy.route(incident.labels), now,
                incident.due_at, labels=incident.labels,
            )
            for incident in incidents
        }.values())
        detections: dict[str, Detection] = {}
        claimed = self._claim(fresh)
        refused = [record for record in fresh if not claimed[record.key]]
        detections.update({record.key: Detection.CLAIM for record in fresh if claimed[record.key]})
        if refused:
            existing = self._state.get_incidents([record.key for record in refused])
            new = [record for record in refused if record.key not in existing]
            claimed = self._claim(new)
            for record in new:  # not there a moment ago; if the claim still fails, another instance just made it
                detections[record.key] = (
                    Detection.CLAIM if claimed[record.key] else self._state.record_detected(record)
                )
            for record in refused:
                if record.key in existing:
                    detections[record.key] = self._decide(existing[record.key], record)
        return [detections[record.key] for record in fresh]

    def _claim(self, records: list[OutboxRecord]) -> dict[str, bool | None]:
        claimed: dict[str, bool | None] = {}
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
