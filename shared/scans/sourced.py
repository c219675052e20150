"""The periodic-check engine for detectors whose inputs a source gathers (shared/scans/sources/): for each unit
(a workspace), every tick, a lookback ending now (no watermark): gather, detect, record through the intake, one
history row. Like periodic.py, whose inputs are one KQL query's rows; the same failure isolation: a unit that
cannot be read is reported, and read again next tick.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from shared.core.budget import Budget
from shared.core.log_markers import SCAN_FAILED
from shared.detectors.base import QueryWindow, SourcedDetector
from shared.outbox.intake import Intake
from shared.scans import workspace
from shared.scans.log_scan import QUERY_BUDGET
from shared.scans.reports import WorkspaceScan
from shared.scans.sources.base import Source
from shared.scans.state import ScanState

log = logging.getLogger(__name__)


class SourcedCheck:
    def __init__(
        self,
        detector: SourcedDetector,
        source: Source,
        state: ScanState,
        intake: Intake,
        budget: timedelta = QUERY_BUDGET,
    ) -> None:
        self.detector = detector
        self.source = source
        self._state = state
        self._intake = intake
        self._budget = budget

    @property
    def units(self) -> tuple[str, ...]:
        """What its source reads, one at a time (the Azure ML workspaces; the fan-out's messages)."""
        return tuple(self.source.units)

    def window(self, now: datetime) -> QueryWindow:
        start = now - self.detector.lookback
        return QueryWindow(start=start, end=now, lookback_start=start)

    def find(self, unit: str, now: datetime, budget: Budget | None = None) -> WorkspaceScan:
        """Gather and detect, without touching state (the CLI's --dry-run)."""
        started = time.perf_counter()
        scan, window = self.detector.scan, self.window(now)
        gathered = self.source.gather(self.detector, unit, now, budget or Budget(self._budget.total_seconds()))
        if gathered.error:
            log.warning("%s %s: %s not read, the next tick reads it again: %s", SCAN_FAILED, scan, unit, gathered.error)
            return WorkspaceScan(
                unit, window, complete=False, error=gathered.error, seconds=time.perf_counter() - started
            )
        findings = self.detector.detect(gathered.inputs, now)
        return WorkspaceScan(
            unit,
            window,
            rows=gathered.rows,
            incidents=findings.incidents,
            complete=gathered.complete,
            seconds=time.perf_counter() - started,
            absent_tables=gathered.absent_tables,
            skipped=dict(findings.skipped),
        )

    def run(self, now: datetime) -> list[WorkspaceScan]:
        budget = Budget(self._budget.total_seconds())
        return [self.check_workspace(unit, now, budget) for unit in self.source.units]

    def check_workspace(self, unit: str, now: datetime, budget: Budget | None = None) -> WorkspaceScan:
        """One unit: gather, detect, record, history. The fan-out's per-workspace unit of work."""
        found = self.find(unit, now, budget)
        workspace.record(self._intake, self.detector.scan, found, now)
        workspace.write_history(self._state, self.detector.scan, found, now)
        return found
