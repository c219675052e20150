"""What the scans remember (owner: the scans): how far each scan has read each workspace (`watermarks`), and one
`history` row per scan of a workspace, for people and for the retention job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.azure.tables import Tables, row_key, utc

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
