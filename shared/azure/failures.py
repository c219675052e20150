"""Why a call to an Azure service could not be read, as one sentence for people (safe to log, store and email):
the failure kinds and their reasons, built from the HTTP answer's status and error code only, never from a URL."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.core.redact import redact


class Failure(StrEnum):
    UNAUTHORIZED = "unauthorized"  # 401: the token was not accepted
    FORBIDDEN = "forbidden"  # 403: the identity lacks a role (or a log link expired)
    NOT_FOUND = "not-found"  # 404
    THROTTLED = "throttled"  # 429 (or 503 ServerBusy) not retried within the time left
    SERVER_ERROR = "server-error"  # 5xx
    CLIENT_ERROR = "client-error"  # another 4xx
    UNSUPPORTED = "unsupported"  # the api-version (a preview) is not offered: use the stable route
    TIMEOUT = "timeout"  # no answer within the call's time
    UNREACHABLE = "unreachable"  # connection failed
    OUT_OF_TIME = "out-of-time"  # the budget was spent before the call
    REFUSED = "refused"  # the client refused to send (a host not allowed, not https)
    BAD_ANSWER = "bad-answer"  # not the JSON shape expected, or a redirect


@dataclass(frozen=True)
class Unavailable:
    """Why something could not be read. `reason` is one sentence for people: safe to log, store and email."""

    service: str
    failure: Failure
    reason: str
    status: int | None = None
    code: str = ""

    def __str__(self) -> str:
        return self.reason

    @property
    def needs_a_person(self) -> bool:
        """401/403/404 do not heal by retrying: a role, a setting or an id is wrong."""
        return self.failure in (Failure.UNAUTHORIZED, Failure.FORBIDDEN, Failure.NOT_FOUND)


def failure_from_response(service: str, response: Any, hints: Mapping[int, str]) -> Unavailable:
    """The Unavailable for a non-success answer, with the service's error code and message (redacted)."""
    status = response.status_code
    code, message = _error_fields(response)
    label = f"{status} {code}".strip()
    hint = hints.get(status) or redact(message)[:300]
    retry_after = response.headers.get("Retry-After")
    if status == 401:
        return Unavailable(
            service,
            Failure.UNAUTHORIZED,
            f"{service} refused the app's token ({label})" + (f": {hint}" if hint else ""),
            status,
            code,
        )
    if status in (429, 503) and (status == 429 or code == "ServerBusy" or retry_after):
        wait = f", Retry-After {retry_after} s" if retry_after else ""
        return Unavailable(
            service,
            Failure.THROTTLED,
            f"{service} is throttling the app ({label}{wait}); not read this time",
            status,
            code,
        )
    if status in (400, 404) and code in (
        "NoRegisteredProviderFound",
        "InvalidApiVersionParameter",
        "InvalidResourceType",
    ):
        return Unavailable(
            service, Failure.UNSUPPORTED, f"{service} does not offer this api-version ({label})", status, code
        )
    if status >= 500:
        return Unavailable(
            service,
            Failure.SERVER_ERROR,
            f"{service} answered {label}: the service failed; not read this time",
            status,
            code,
        )
    if 300 <= status < 400:
        return Unavailable(
            service, Failure.BAD_ANSWER, f"{service} answered a redirect ({status}); not followed", status
        )
    failure = {403: Failure.FORBIDDEN, 404: Failure.NOT_FOUND}.get(status, Failure.CLIENT_ERROR)
    return Unavailable(service, failure, f"{service} answered {label}" + (f": {hint}" if hint else ""), status, code)


def _error_fields(response: Any) -> tuple[str, str]:
    """(code, message) of an ARM/run-history JSON error, or of a Storage XML error; ("", "") otherwise."""
    try:
        text = response.text()
    except (UnicodeDecodeError, ValueError):
        return "", ""
    try:
        body = json.loads(text)
    except ValueError:
        code = re.search(r"<Code>([^<]{1,100})</Code>", text)
        message = re.search(r"<Message>([^<\n]{1,500})", text)
        return (code.group(1) if code else ""), (message.group(1) if message else "")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")
