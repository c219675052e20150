"""Log Analytics query API (azure-monitor-query LogsQueryClient), with a deadline on every call.

azure-core's RetryPolicy retries a 429 or 5xx (and any answer with `Retry-After`) and sleeps for the whole
`Retry-After` however long it is; its `timeout` is checked only before the next try, after the sleep. Inside a
timer function with a schedule that is a way to overrun the tick. `shared.azure.retry.deadline_retry_policy`
keeps the SDK's behaviour (honour `Retry-After`, else exponential backoff; at most `retry_total` retries) but
refuses a retry whose wait would end past the call's deadline: the error is raised at once and the next tick
tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

from shared.azure.retry import deadline_retry_policy

log = logging.getLogger(__name__)

SERVER_TIMEOUT_SECONDS = 180  # the service's own default; it cancels a query running longer
CALL_BUDGET_SECONDS = 30.0  # one call with its retries and their waits, when the caller gives no deadline
MIN_CALL_SECONDS = 5.0  # less than this left before the deadline: do not start a query


@dataclass(frozen=True)
class QueryResult:
    rows: list[dict[str, Any]]
    complete: bool  # False: the service returned a partial result; do not treat the window as read
    error: str = ""
    absent_tables: tuple[str, ...] = ()  # optional tables the service said it skipped (not created yet)


class QueryFailed(Exception):
    """The query got no answer: an HTTP error (403, 404, 429, 5xx...), a timeout, a connection failure, or no
    time left before the deadline. `reason` is safe to log and store (no token, no URL)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class LogAnalytics:
    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential,
        *,
        retry_total: int = 3,
        server_timeout: int = SERVER_TIMEOUT_SECONDS,
        **transport: Any,
    ) -> None:
        """`server_timeout`: how long the service may run a query (seconds); `transport`: azure-core connection
        options (`connection_timeout`, `read_timeout`) for callers with a tighter budget than a timer's."""
        from azure.monitor.query import LogsQueryClient

        # A few retries within the deadline; beyond it the next tick tries again from the same watermark.
        policy = deadline_retry_policy("Log Analytics", retry_total=retry_total, min_call_seconds=MIN_CALL_SECONDS)
        self._client = LogsQueryClient(credential, endpoint=endpoint, retry_policy=policy, **transport)
        self.endpoint = endpoint  # named in errors: a host, no secret
        self._server_timeout = server_timeout

    def query(
        self, workspace_id: str, query: str, start: datetime, end: datetime, deadline: float | None = None
    ) -> QueryResult:
        """Rows of `query` over TimeGenerated in [start, end]. `deadline` (time.monotonic()) bounds the call, its
        retries and their waits; raises QueryFailed when there is no answer by then."""
        from azure.core.exceptions import AzureError
        from azure.monitor.query import LogsQueryStatus

        remaining = (deadline if deadline is not None else time.monotonic() + CALL_BUDGET_SECONDS) - time.monotonic()
        if remaining < MIN_CALL_SECONDS:
            raise QueryFailed("not queried: this tick's time for Log Analytics was spent")
        try:
            result = self._client.query_workspace(
                workspace_id,
                query,
                timespan=(start, end),
                server_timeout=int(min(self._server_timeout, remaining)),
                timeout=remaining,
            )
        except AzureError as err:
            raise _failure(err) from err
        if result.status == LogsQueryStatus.SUCCESS:
            return QueryResult(_rows(result.tables), complete=True)
        error = result.partial_error
        absent = _absent_tables(error.details) if error else None
        if absent:
            log.info("Log Analytics workspace %s has no table %s yet: read as empty", workspace_id, ", ".join(absent))
            return QueryResult(_rows(result.partial_data or []), complete=True, absent_tables=absent)
        text = f"{error.code}: {error.message}" if error else "partial"
        log.warning("Log Analytics returned a partial result for workspace %s: %s", workspace_id, text)
        return QueryResult(_rows(result.partial_data or []), complete=False, error=text)


def _rows(tables: list[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table in tables:
        rows.extend(dict(zip(table.columns, row, strict=True)) for row in table.rows)
    return rows


def _innermost(detail: Any) -> Mapping[str, Any]:
    """The deepest `innererror` of an error object (the SDK hands them over as JSON mappings, not dicts)."""
    while isinstance(detail, Mapping) and isinstance(detail.get("innererror"), Mapping):
        detail = detail["innererror"]
    return detail if isinstance(detail, Mapping) else {}


def _absent_tables(details: list[Any] | None) -> tuple[str, ...]:
    """The tables named by a partial answer whose every detail is a warning that a fuzzy union skipped a table
    it could not resolve (`shared.core.kql.optional_table`): the rows are complete. Anything else: ()."""
    names = []
    for detail in details or []:
        inner = _innermost(detail)
        message = str(inner.get("message", ""))
        if inner.get("severityName") != "Warning" or "Failed to resolve table" not in message:
            return ()
        names.append(message.rsplit("named ", 1)[-1].strip("'\" "))
    return tuple(names)


def _failure(err: Exception) -> QueryFailed:
    """`403 InsufficientAccessError: ...`, `429 TooManyRequests (Retry-After 30 s): ...`, `timeout: ...`."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(err, HttpResponseError) and err.status_code is not None:
        response = err.response
        code = (err.error.code if err.error else None) or (response.reason if response else "") or "error"
        retry_after = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
        wait = f" (Retry-After {retry_after} s)" if retry_after else ""
        message = _innermost(_error_body(err)).get("message") or (err.error.message if err.error else "")
        return QueryFailed(f"{err.status_code} {code}{wait}: {message}"[:500], err.status_code)
    kind = (
        "timeout"
        if "timeout" in type(err).__name__.lower()
        else (
            "connection failed" if isinstance(err, ServiceRequestError | ServiceResponseError) else type(err).__name__
        )
    )
    return QueryFailed(f"{kind}: {err.message if hasattr(err, 'message') else err}"[:500])


def _error_body(err: Any) -> Mapping[str, Any]:
    try:
        body = err.response.json()
    except (AttributeError, ValueError):
        return {}
    return body.get("error", {}) if isinstance(body, Mapping) else {}
