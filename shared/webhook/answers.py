"""What the webhook answers, and the one error type for a request it refuses (bad payload, failed auth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RETRY_AFTER_SECONDS = 5  # Azure's own first retry delay; a released claim can be claimed again at once


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Rejected(Exception):
    """The request is refused with this HTTP status (400, 401, 403, 413, 415) and a message that says exactly
    why; or, 503, it cannot be checked now (signing keys unreachable): retry after `retry_after` seconds."""

    def __init__(self, status: int, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error(status: int, message: str, headers: dict[str, str] | None = None) -> WebhookAnswer:
    return WebhookAnswer(status, {"status": "rejected" if status < 500 else "retry", "error": message}, headers or {})


def retry(message: str, after: int = RETRY_AFTER_SECONDS) -> WebhookAnswer:
    """503: Azure retries it (a 500 it does not)."""
    return error(503, message, {"Retry-After": str(after)})
