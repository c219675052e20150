"""What the scans remember (owner: the scans): how far each scan has read each workspace (`watermarks`), and one
`history` row per scan of a workspace, for people and for the retention job.

The lease of a (scan, workspace) is a row of `watermarks` beside its watermark (RowKey `lease-<source>`), taken
with a compare-and-swap on its ETag: of two instances given the same workspace (two ticks' queue messages, or a
message shown again while its first try still runs), only one scans it; a holder that dies frees it when the lease
runs out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.azure.tables import Tables, cas, row_key, utc

WATERMARKS = "watermarks"
HISTORY = "history"
TABLES = (WATERMARKS, HISTORY)


class ScanState:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def get_watermark(self, scan: str, source: str) -> datetime | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._tables.table(WATERMARKS).get_entity(scan, row_key(source))
        except ResourceNotFoundError:
            return None
        return utc(entity["Watermark"])

    def set_watermark(self, scan: str, source: str, moment: datetime) -> None:
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": scan, "RowKey": row_key(source), "Source": source, "Watermark": moment}
        self._tables.table(WATERMARKS).upsert_entity(entity, mode=UpdateMode.REPLACE)

    def take_lease(self, scan: str, source: str, holder: str, now: datetime, until: datetime) -> bool:
        """Lease (scan, source) to `holder` until `until`, unless another holder has it now."""
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        table = self._tables.table(WATERMARKS)
        lease = {"PartitionKey": scan, "RowKey": _lease_key(source), "Holder": holder, "LeaseUntil": until}
        try:
            existing = table.get_entity(scan, _lease_key(source))
        except ResourceNotFoundError:
            try:
                table.create_entity(lease)
            except ResourceExistsError:  # another instance took it a moment ago
                return False
            return True
        if existing.get("Holder") != holder and utc(existing["LeaseUntil"]) > now:
            return False
        try:
            table.update_entity(lease, **cas(existing.metadata.get("etag")))
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def release_lease(self, scan: str, source: str, holder: str, now: datetime) -> None:
        """End the lease now, if `holder` still has it."""
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        table = self._tables.table(WATERMARKS)
        try:
            existing = table.get_entity(scan, _lease_key(source))
            if existing.get("Holder") == holder:
                ended = {"PartitionKey": scan, "RowKey": _lease_key(source), "Holder": "", "LeaseUntil": now}
                table.update_entity(ended, **cas(existing.metadata.get("etag")))
        except (ResourceModifiedError, ResourceNotFoundError):
            pass

    def record_scan(self, scan: str, source: str, started: datetime, **facts: Any) -> None:
        entity = {
            "PartitionKey": started.strftime("%Y%m%d"),
            # Two instances may scan at the same moment: the random part keeps their rows apart.
            "RowKey": f"{started.strftime('%H%M%S%f')}-{scan}-{row_key(source)[:12]}-{uuid.uuid4().hex[:8]}",
            "Scan": scan,
            "Source": source,
            "StartedAt": started,
            **facts,
        }
        self._tables.table(HISTORY).create_entity(entity)

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: history rows of scans started before `cutoff`. Watermarks are kept (one per scan and
        workspace): without one a workspace would be read from FIRST_SCAN_LOOKBACK_MINUTES again."""
        return self._tables.delete_where(HISTORY, "StartedAt lt @cutoff", cutoff)


def _lease_key(source: str) -> str:
    return "lease-" + row_key(source)
