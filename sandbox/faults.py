"""Faults armed by tests: the next N calls to a service answer an error status instead, a service fails during a
window of the sandbox clock, or one Log Analytics workspace answers an error (403, 404, 429 with Retry-After,
5xx) while the others answer normally."""

from __future__ import annotations

import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime

from .errors import ServiceError

SERVICES = ("logs", "metrics", "email", "email-status")  # email-status: only the email operation status reads
_CODES = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
# What the Log Analytics query API answers per status: 404 is the recorded answer for an unknown workspace
# (wire sample); 403 is the code and text the service gives an identity without read access to the workspace.
_WORKSPACE_ERRORS = {
    403: ("InsufficientAccessError",
          "The provided credentials have insufficient access to perform the requested operation"),
    404: ("PathNotFoundError", "The requested path does not exist"),
    429: ("TooManyRequests", "Too many requests; retry after the time given in the Retry-After header"),
    500: ("InternalServerError", "An internal error occurred"),
    502: ("BadGateway", "The service is temporarily unavailable"),
    503: ("ServiceUnavailable", "The service is temporarily unavailable"),
    504: ("GatewayTimeout", "The request timed out"),
}


@dataclass
class _WorkspaceFault:
    status: int
    remaining: int | None  # answers left; None: until cleared
    retry_after: int | None  # seconds, sent as Retry-After


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[int]] = {service: deque() for service in SERVICES}
        self._partial = 0
        self._windows: list[tuple[str, int, datetime, datetime]] = []
        self._workspaces: dict[str, _WorkspaceFault] = {}
        # Set (e.g. 1) to answer faults with `retry-after-ms`: SDK retries then wait that long instead of their
        # exponential backoff in wall time (a simulation moves its own clock; the outcome is the same).
        self.retry_after_ms: int | None = None
        self.raised: Counter[str] = Counter()  # fault answers given, per service and per "logs:<workspace id>"
        self._delays: dict[str, deque[float]] = {service: deque() for service in SERVICES}

    def fail_during(self, service: str, status: int, start: datetime, end: datetime) -> None:
        """Every call to *service* answers *status* while the sandbox clock is in [start, end)."""
        self.fail_next(service, status, 0)  # validates
        with self._lock:
            self._windows.append((service, status, start, end))

    def fail_next(self, service: str, status: int, count: int = 1) -> None:
        if service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, not {service!r}")
        if status not in _CODES:
            raise ValueError(f"status must be one of {sorted(_CODES)}, not {status}")
        with self._lock:
            self._pending[service].extend([status] * count)

    def fail_workspace(self, workspace_id: str, status: int, count: int | None = None,
                       retry_after: int | None = None) -> None:
        """Queries of one Log Analytics workspace answer *status* (the next *count* of them, or all until
        `heal_workspace`/`clear`), with `Retry-After: <retry_after>` when given; other workspaces answer."""
        if status not in _WORKSPACE_ERRORS:
            raise ValueError(f"status must be one of {sorted(_WORKSPACE_ERRORS)}, not {status}")
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        with self._lock:
            self._workspaces[workspace_id.lower()] = _WorkspaceFault(status, count, retry_after)

    def heal_workspace(self, workspace_id: str) -> None:
        with self._lock:
            self._workspaces.pop(workspace_id.lower(), None)

    def delay_next(self, service: str, seconds: float, count: int = 1) -> None:
        """The next N calls to *service* answer only after *seconds* of wall time: a slow service or network."""
        self.fail_next(service, 500, 0)  # validates the name
        with self._lock:
            self._delays[service].extend([seconds] * count)

    def take_delay(self, service: str) -> float:
        with self._lock:
            return self._delays[service].popleft() if self._delays[service] else 0.0

    def fail_next_partial(self, count: int = 1) -> None:
        with self._lock:
            self._partial += count

    def raise_if_armed(self, service: str, now: datetime | None = None) -> None:
        """Consume one armed fault for *service* (or find a fault window at *now*) and raise it as the
        service's error answer."""
        with self._lock:
            status = self._pending[service].popleft() if self._pending[service] else None
            if status is None and now is not None:
                status = next((s for name, s, start, end in self._windows if name == service and start <= now < end),
                              None)
            if status is not None:
                self.raised[service] += 1
        if status is not None:
            headers = {"Retry-After": "0"} if status == 429 else {}
            raise ServiceError(status, _CODES[status], f"Sandbox fault: {status} armed for {service}",
                               self._retry_headers(headers))

    def raise_if_workspace_fails(self, workspace_id: str) -> None:
        """The armed answer of this workspace's query, if any."""
        key = workspace_id.lower()
        with self._lock:
            fault = self._workspaces.get(key)
            if fault is None:
                return
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._workspaces[key]
            self.raised["logs"] += 1
            self.raised[f"logs:{key}"] += 1
        code, message = _WORKSPACE_ERRORS[fault.status]
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise ServiceError(fault.status, code, message, self._retry_headers(headers), correlationId=str(uuid.uuid4()))

    def _retry_headers(self, headers: dict[str, str]) -> dict[str, str]:
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = str(self.retry_after_ms)
        return headers

    def take_partial(self) -> bool:
        with self._lock:
            armed = self._partial > 0
            if armed:
                self._partial -= 1
        return armed

    def clear(self) -> None:
        with self._lock:
            for pending in self._pending.values():
                pending.clear()
            self._partial = 0
            self._windows.clear()
            self._workspaces.clear()
            self.raised.clear()
            for delays in self._delays.values():
                delays.clear()
