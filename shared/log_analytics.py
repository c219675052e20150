"""Log Analytics query API (azure-monitor-query LogsQueryClient)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryResult:
    rows: list[dict[str, Any]]
    complete: bool  # False: the service returned a partial result; do not treat the window as read
    error: str = ""


class LogAnalytics:
    def __init__(self, endpoint: str, credential: Any, *, retry_total: int = 3, server_timeout: int = 180,
                 **transport: Any) -> None:
        """`server_timeout`: how long the service may run a query (seconds); `transport`: azure-core connection
        options (`connection_timeout`, `read_timeout`) for callers with a tighter budget than a timer's."""
        from azure.monitor.query import LogsQueryClient

        # A scan has a time budget: a few quick retries, then the next tick tries again from the same watermark.
        self._client = LogsQueryClient(credential, endpoint=endpoint, retry_total=retry_total, **transport)
        self._server_timeout = server_timeout
        self.calls = 0

    def query(self, workspace_id: str, query: str, start: datetime, end: datetime) -> QueryResult:
        from azure.monitor.query import LogsQueryStatus

        self.calls += 1
        result = self._client.query_workspace(workspace_id, query, timespan=(start, end),
                                              server_timeout=self._server_timeout)
        if result.status == LogsQueryStatus.SUCCESS:
            return QueryResult(_rows(result.tables), complete=True)
        error = f"{result.partial_error.code}: {result.partial_error.message}" if result.partial_error else "partial"
        log.warning("Log Analytics returned a partial result for workspace %s: %s", workspace_id, error)
        return QueryResult(_rows(result.partial_data or []), complete=False, error=error)


def _rows(tables: list[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table in tables:
        rows.extend(dict(zip(table.columns, row, strict=True)) for row in table.rows)
    return rows
