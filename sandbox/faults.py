"""One-shot faults armed by tests: the next N calls to a service answer an error status instead."""

from __future__ import annotations

import threading
from collections import Counter, deque
from datetime import datetime

from .errors import ServiceError

SERVICES = ("logs", "metrics", "email", "email-status")  # email-status: only the email operation status reads
_CODES = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[int]] = {service: deque() for service in SERVICES}
        self._partial = 0
        self._windows: list[tuple[str, int, datetime, datetime]] = []
        # Set (e.g. 1) to answer faults with `retry-after-ms`: SDK retries then wait that long instead of their
        # exponential backoff in wall time (a simulation moves its own clock; the outcome is the same).
        self.retry_after_ms: int | None = None
        self.raised: Counter[str] = Counter()  # fault answers given, per service

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
            with self._lock:
                self.raised[service] += 1
            headers = {"Retry-After": "0"} if status == 429 else {}
            if self.retry_after_ms is not None:
                headers["retry-after-ms"] = str(self.retry_after_ms)
            raise ServiceError(status, _CODES[status], f"Sandbox fault: {status} armed for {service}", headers)

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
