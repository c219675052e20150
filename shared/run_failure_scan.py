"""The run-failure scan: watermark -> query -> incidents -> claims -> watermark.

    window = (watermark - overlap, now] by ingestion_time(); TimeGenerated limited to the lookback
    rows -> events -> one incident per pipeline run (pure, run_failures.py)
    each incident: claim (insert-if-absent) or update the pending one (outbox.on_detected)
    watermark := now, only when the result was complete and every incident was recorded

The overlap re-reads recent rows on purpose (records become queryable a little after their ingestion time);
what it returns twice is absorbed by the claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import outbox
from shared.log_analytics import LogAnalytics
from shared.outbox import Detection
from shared.run_failures import (
    PipelineFailure,
    QueryWindow,
    events_from_rows,
    group_pipeline_failures,
    incident_payload,
    run_failures_query,
)
from shared.state_tables import StateTables

log = logging.getLogger(__name__)

Router = Callable[[Mapping[str, str]], tuple[str, ...]]  # incident labels -> recipients

SCAN = "run-failures"
KIND = "run-failure"


@dataclass(frozen=True)
class ScanPolicy:
    workspace_ids: tuple[str, ...]
    overlap: timedelta
    lookback: timedelta
    first_lookback: timedelta
    group_wait: timedelta
    route: Router


@dataclass
class WorkspaceScan:
    workspace_id: str
    window: QueryWindow
    rows: int = 0
    incidents: list[PipelineFailure] = field(default_factory=list)
    claimed: int = 0
    updated: int = 0
    complete: bool = True
    seconds: float = 0.0


def due_at(incident: PipelineFailure, group_wait: timedelta) -> datetime:
    """A finished pipeline run is complete: send at once. A running one may still fail more steps: wait a
    little (counted from its first failure, so late-arriving data does not add to the wait)."""
    return incident.failed_at if incident.is_settled else incident.failed_at + group_wait


class RunFailureScan:
    def __init__(self, logs: LogAnalytics, state: StateTables, policy: ScanPolicy) -> None:
        self._logs = logs
        self._state = state
        self._policy = policy

    def window(self, workspace_id: str, now: datetime, since: timedelta | None = None) -> QueryWindow:
        if since is not None:
            start = now - since
        else:
            watermark = self._state.get_watermark(SCAN, workspace_id)
            start = (watermark or now - self._policy.first_lookback) - self._policy.overlap
        return QueryWindow(start=start, end=now, lookback_start=min(start, now - self._policy.lookback))

    def find(self, workspace_id: str, window: QueryWindow) -> WorkspaceScan:
        """Query and group, without touching state (the CLI's --dry-run uses this alone)."""
        started = time.perf_counter()
        result = self._logs.query(workspace_id, run_failures_query(window), window.lookback_start, window.end)
        incidents = group_pipeline_failures(events_from_rows(result.rows))
        return WorkspaceScan(
            workspace_id, window, rows=len(result.rows), incidents=incidents, complete=result.complete,
            seconds=time.perf_counter() - started,
        )

    def run(self, now: datetime, since: timedelta | None = None) -> list[WorkspaceScan]:
        """One tick over every workspace. A replay (`since`) claims what it finds but leaves the watermark."""
        scans = []
        for workspace_id in self._policy.workspace_ids:
            window = self.window(workspace_id, now, since)
            scan = self.find(workspace_id, window)
            for incident in scan.incidents:
                detection = self._record(incident, now)
                scan.claimed += detection is Detection.CLAIM
                scan.updated += detection is Detection.UPDATE
            if scan.complete and since is None:
                self._state.set_watermark(SCAN, workspace_id, window.end)
            self._state.record_scan(
                SCAN, workspace_id, now, WindowStart=window.start, WindowEnd=window.end, Rows=scan.rows,
                Incidents=len(scan.incidents), Claimed=scan.claimed, Updated=scan.updated, Complete=scan.complete,
                Seconds=round(scan.seconds, 3),
            )
            scans.append(scan)
        return scans

    def _record(self, incident: PipelineFailure, now: datetime) -> Detection:
        fresh = outbox.new_record(
            incident.key, KIND, incident_payload(incident), self._policy.route(incident.labels), now,
            due_at(incident, self._policy.group_wait),
        )
        # Two tries: a lost compare-and-swap means another instance just wrote it; read again and decide again.
        for _ in range(2):
            existing = self._state.get_incident(incident.key)
            detection, record = outbox.on_detected(existing, fresh)
            if record is None:
                return detection
            written = (
                self._state.claim_incident(record)
                if detection is Detection.CLAIM
                else self._state.replace_incident(record) is not None
            )
            if written:
                return detection
        return Detection.UNCHANGED
