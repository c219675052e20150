"""One workspace's part of a Log Analytics tick, shared by both engines (log_scan.py, periodic.py): query and detect
with the failure isolation of a bad workspace, record what was found through the intake, write the history row."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.azure.log_analytics import LogAnalytics, QueryFailed
from shared.core.log_markers import SCAN_FAILED
from shared.detectors.base import Findings, QueryWindow
from shared.outbox.intake import Intake
from shared.scans.reports import WorkspaceScan
from shared.scans.state import ScanState
from shared.scans.workspace_hints import explain

log = logging.getLogger(__name__)


def find(
    scan: str,
    logs: LogAnalytics,
    workspace_id: str,
    window: QueryWindow,
    query: str,
    detect: Callable[[list[dict[str, Any]]], Findings],
    deadline: float,
) -> WorkspaceScan:
    """Query and detect, without touching state. A query that gets no answer by `deadline` (time.monotonic())
    gives a failed WorkspaceScan (`error`), not an exception."""
    started = time.perf_counter()
    try:
        result = logs.query(workspace_id, query, window.lookback_start, window.end, deadline)
    except QueryFailed as err:
        # No access or no such workspace needs a person (role assignment, LOG_ANALYTICS_WORKSPACE_IDS); the rest
        # (throttling, 5xx, timeouts) usually passes by the next tick.
        level = logging.ERROR if err.status in (401, 403, 404) else logging.WARNING
        error = explain(err.reason, err.status, workspace_id, logs.endpoint)
        log.log(
            level,
            "%s %s: Log Analytics workspace %s not read, the next tick reads it again: %s",
            SCAN_FAILED,
            scan,
            workspace_id,
            error,
        )
        return WorkspaceScan(workspace_id, window, complete=False, error=error, seconds=time.perf_counter() - started)
    findings = detect(result.rows)
    if findings.skipped:
        log.warning(
            "%s scan of %s: skipped %s",
            scan,
            workspace_id,
            ", ".join(f"{n} row(s) with {why}" for why, n in sorted(findings.skipped.items())),
        )
    return WorkspaceScan(
        workspace_id,
        window,
        rows=len(result.rows),
        incidents=findings.incidents,
        complete=result.complete,
        seconds=time.perf_counter() - started,
        absent_tables=result.absent_tables,
        skipped=dict(findings.skipped),
    )


def record(intake: Intake, scan: str, found: WorkspaceScan, now: datetime) -> None:
    """Hand the incidents to the intake; the scan's counts say what became of them."""
    recorded = intake.record(found.incidents, now, source=f"{scan} scan of {found.workspace_id}")
    found.claimed, found.updated = recorded.claimed, recorded.updated
    found.shortened, found.not_stored = recorded.shortened, recorded.not_stored


def write_history(state: ScanState, scan: str, found: WorkspaceScan, now: datetime) -> None:
    window = found.window
    state.record_scan(scan, found.workspace_id, now, WindowStart=window.start, WindowEnd=window.end, **found.history())
