"""The ingestion-window engine: watermark -> query -> incidents -> intake -> watermark, workspace by workspace.

    window = (watermark - overlap, now] by ingestion_time(); TimeGenerated limited to the lookback
    rows -> incidents (pure, by the scan's detector: shared/detectors/)
    each incident through the intake (shared/outbox/intake.py): claim, or update the pending one
    watermark := now, only when the result was complete and every incident was recorded

The overlap re-reads recent rows on purpose (records become queryable a little after their ingestion time);
what it returns twice is absorbed by the claim.

One workspace is one unit (`scan_workspace`): the timer runs every workspace in turn (`run`), and a fan-out (one
queue message per workspace) can run one. One that cannot be read (403, 404, throttled, 5xx, timeout) does not
stop the others: it is logged, reported in the tick's report and the scan history, and keeps its watermark, so
the next tick reads its whole gap. A tick spends at most `ScanPolicy.query_budget` in Log Analytics, retries and
their waits included; a workspace it has no time left for is reported the same way and read next tick.

One incident never blocks the others (the intake stores one the service refuses in its minimal form); rows a
detector cannot use (a null TimeGenerated) are counted and logged per scan, never dropped silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.azure.log_analytics import LogAnalytics
from shared.detectors.base import QueryWindow, WindowDetector
from shared.outbox.intake import Intake
from shared.scans import workspace
from shared.scans.reports import WorkspaceScan
from shared.scans.state import ScanState

# A tick's time in Log Analytics: well inside the shortest sensible schedule (5 minutes) and the function timeout
# (host.json, 10 minutes), leaving time for the claims and the delivery that follow.
QUERY_BUDGET = timedelta(minutes=2)


@dataclass(frozen=True)
class ScanPolicy:
    workspace_ids: tuple[str, ...]
    overlap: timedelta
    lookback: timedelta
    first_lookback: timedelta
    query_budget: timedelta = QUERY_BUDGET

    def deadline(self) -> float:
        """The end of a tick's time in Log Analytics, on the monotonic clock, from now."""
        return time.monotonic() + self.query_budget.total_seconds()


class LogScan:
    def __init__(
        self, detector: WindowDetector, logs: LogAnalytics, state: ScanState, intake: Intake, policy: ScanPolicy
    ) -> None:
        self.detector = detector
        self._logs = logs
        self._state = state
        self._intake = intake
        self._policy = policy

    @property
    def units(self) -> tuple[str, ...]:
        """The Log Analytics workspaces it scans, one at a time (the fan-out's messages)."""
        return self._policy.workspace_ids

    def window(self, workspace_id: str, now: datetime, since: timedelta | None = None) -> QueryWindow:
        watermark = None if since is not None else self._state.get_watermark(self.detector.scan, workspace_id)
        return self._window(now, watermark, since)

    def _window(self, now: datetime, watermark: datetime | None, since: timedelta | None) -> QueryWindow:
        start = (
            now - since
            if since is not None
            else (watermark or now - self._policy.first_lookback) - (self._policy.overlap)
        )
        return QueryWindow(start=start, end=now, lookback_start=min(start, now - self._policy.lookback))

    def find(self, workspace_id: str, window: QueryWindow, deadline: float | None = None) -> WorkspaceScan:
        """Query and detect, without touching state (the CLI's --dry-run uses this alone); `deadline`
        (time.monotonic()) defaults to the policy's budget from now."""
        detector = self.detector
        return workspace.find(
            detector.scan,
            self._logs,
            workspace_id,
            window,
            detector.query(window),
            detector.detect,
            self._policy.deadline() if deadline is None else deadline,
        )

    def run(self, now: datetime, since: timedelta | None = None) -> list[WorkspaceScan]:
        """One tick over every workspace. A replay (`since`) claims what it finds but leaves the watermark."""
        deadline = self._policy.deadline()
        return [self.scan_workspace(ws, now, since, deadline) for ws in self._policy.workspace_ids]

    def scan_workspace(
        self, workspace_id: str, now: datetime, since: timedelta | None = None, deadline: float | None = None
    ) -> WorkspaceScan:
        """One workspace: its window from its watermark, query, detect, record, move its watermark, history.
        Never raises for a workspace that cannot be read (see `WorkspaceScan.error`); a table service that is
        down raises (the next tick reads the same window again)."""
        scan = self.detector.scan
        watermark = None if since is not None else self._state.get_watermark(scan, workspace_id)
        window = self._window(now, watermark, since)
        found = self.find(workspace_id, window, deadline)
        if found.error and since is None and watermark is None:
            # Its very first scan: hold where it started, so the gap is read once the workspace answers.
            self._state.set_watermark(scan, workspace_id, window.start + self._policy.overlap)
        workspace.record(self._intake, scan, found, now)
        if found.complete and since is None:
            self._state.set_watermark(scan, workspace_id, window.end)
        workspace.write_history(self._state, scan, found, now)
        return found
