"""The periodic-check engine: for each workspace, every tick, a lookback window ending now (no watermark): query,
detect, record through the intake, one history row. For what did *not* arrive or did not change (a run stuck in
Running, a schedule that did not fire): a watermark cannot find an absence. The same incident found again next
tick has the same key, so the intake claims it once (and updates it while it is pending).

Failure isolation as in log_scan.py: a workspace that cannot be read is reported and checked again next tick.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial

from shared.azure.log_analytics import LogAnalytics
from shared.detectors.base import PeriodicDetector, QueryWindow
from shared.outbox.intake import Intake
from shared.scans import workspace
from shared.scans.log_scan import QUERY_BUDGET
from shared.scans.reports import WorkspaceScan
from shared.scans.state import ScanState


class PeriodicCheck:
    def __init__(
        self,
        detector: PeriodicDetector,
        logs: LogAnalytics,
        state: ScanState,
        intake: Intake,
        workspace_ids: tuple[str, ...],
        query_budget: timedelta = QUERY_BUDGET,
    ) -> None:
        self.detector = detector
        self._logs = logs
        self._state = state
        self._intake = intake
        self._workspace_ids = workspace_ids
        self._query_budget = query_budget

    @property
    def units(self) -> tuple[str, ...]:
        """The Log Analytics workspaces it checks, one at a time (the fan-out's messages)."""
        return self._workspace_ids

    def window(self, now: datetime) -> QueryWindow:
        start = now - self.detector.lookback
        return QueryWindow(start=start, end=now, lookback_start=start)

    def find(self, workspace_id: str, now: datetime, deadline: float | None = None) -> WorkspaceScan:
        """Query and detect, without touching state (the CLI's --dry-run)."""
        window = self.window(now)
        if deadline is None:
            deadline = time.monotonic() + self._query_budget.total_seconds()
        query, detect = self.detector.query(window), partial(self.detector.detect, now=now)
        return workspace.find(self.detector.scan, self._logs, workspace_id, window, query, detect, deadline)

    def run(self, now: datetime) -> list[WorkspaceScan]:
        deadline = time.monotonic() + self._query_budget.total_seconds()
        return [self.check_workspace(ws, now, deadline) for ws in self._workspace_ids]

    def check_workspace(self, workspace_id: str, now: datetime, deadline: float | None = None) -> WorkspaceScan:
        """One workspace: query its lookback window, detect, record, history. Like LogScan.scan_workspace."""
        found = self.find(workspace_id, now, deadline)
        workspace.record(self._intake, self.detector.scan, found, now)
        workspace.write_history(self._state, self.detector.scan, found, now)
        return found
