"""Fan-out of a Log Analytics scan over the `scan-workspaces` queue: one message per (scan, workspace).

    the scan's timer        -> one message {"scan", "workspace", "tick"} per workspace, all put before it returns
    scan_workspace (queue)  -> lease (scan, workspace) on its watermark row (state.py): held by another instance
        -> skipped (that one reads the window; the next tick reads on from the watermark it leaves); else the
        per-workspace unit (LogScan.scan_workspace, or check_workspace of a PeriodicCheck or SourcedCheck), then the
        lease is released
    a workspace not read (throttled, 5xx, timeout, no access) -> the unit reported it (SCAN_FAILED, history row,
        watermark kept); raised while the message has tries left, so the queue tries again after host.json's
        visibilityTimeout; on its last try it is reported as given up (the next tick reads the whole gap)
    a body that is not such a message -> logged as an error and dropped

The lease lasts LEASE (the function timeout): a holder that dies blocks its workspace at most that long.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.azure.queues import MAX_DEQUEUE_COUNT, SCAN_WORKSPACES
from shared.core.log_markers import SCAN_FAILED

if TYPE_CHECKING:
    from shared.azure.queues import Queues
    from shared.scans.log_scan import LogScan
    from shared.scans.periodic import PeriodicCheck
    from shared.scans.reports import WorkspaceScan
    from shared.scans.sourced import SourcedCheck
    from shared.scans.state import ScanState

    Engine = LogScan | PeriodicCheck | SourcedCheck

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # host.json functionTimeout


class WorkspaceNotRead(RuntimeError):
    """Raised so that the queue tries the workspace again (the unit already logged and recorded why)."""


def enqueue_workspaces(queues: Queues, scan: str, units: tuple[str, ...], now: datetime) -> int:
    """One message per workspace (the engine's units); raises if one cannot be put (the timer fails; the next tick
    reads the gap)."""
    for workspace_id in units:
        queues.send(SCAN_WORKSPACES, {"scan": scan, "workspace": workspace_id, "tick": now.isoformat()})
    return len(units)


def parse_message(body: bytes) -> tuple[str, str]:
    """(scan, workspace) of a `scan-workspaces` message; ValueError says what is wrong."""
    message: Any = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    scan, workspace_id = message.get("scan"), message.get("workspace")
    if not (isinstance(scan, str) and scan and isinstance(workspace_id, str) and workspace_id):
        raise ValueError('expected {"scan": "<scan>", "workspace": "<workspace id>", "tick": "<time>"}')
    return scan, workspace_id


def handle_message(
    body: bytes,
    dequeue_count: int,
    now: datetime,
    engine_for: Callable[[str], Engine],
    state: ScanState,
) -> WorkspaceScan | None:
    """One `scan-workspaces` message; a message for a scan that is not a timer scan over workspaces, or for a
    workspace that scan was not given (LOG_ANALYTICS_WORKSPACE_IDS, AML_WORKSPACE_IDS: the app scans only those,
    ever), is logged and dropped."""
    try:
        scan, workspace_id = parse_message(body)
        engine = engine_for(scan)
    except (ValueError, KeyError) as err:
        log.error("scan_workspace: dropped a message that names no scan of a workspace (%s): %r", err, body[:200])
        return None
    if workspace_id not in engine.units:
        log.error("scan_workspace: dropped a message for %r, not a workspace %s scans", workspace_id[:200], scan)
        return None
    return scan_workspace(engine, state, workspace_id, dequeue_count, now)


def scan_workspace(
    engine: Engine, state: ScanState, workspace_id: str, dequeue_count: int, now: datetime
) -> WorkspaceScan | None:
    """One workspace of one scan under its lease; None if another instance holds it."""
    from shared.scans.log_scan import LogScan

    scan = engine.detector.scan
    holder = uuid.uuid4().hex
    if not state.take_lease(scan, workspace_id, holder, now, now + LEASE):
        log.info("scan_workspace: %s of %s is being scanned by another instance; skipped", scan, workspace_id)
        return None
    try:
        found = (
            engine.scan_workspace(workspace_id, now)
            if isinstance(engine, LogScan)
            else engine.check_workspace(workspace_id, now)
        )
    finally:
        state.release_lease(scan, workspace_id, holder, now)
    if found.error:
        if dequeue_count < MAX_DEQUEUE_COUNT:
            raise WorkspaceNotRead(f"{scan} of {workspace_id} not read (try {dequeue_count}): {found.error}")
        log.error(
            "%s %s: Log Analytics workspace %s not read, the next tick reads it again: given up after %d tries: %s",
            SCAN_FAILED,
            scan,
            workspace_id,
            dequeue_count,
            found.error,
        )
    return found
