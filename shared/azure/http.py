"""Best-effort HTTP on azure-core for the enrichment clients (ARM, run history, log blobs).

Every call runs inside a `Budget` (a deadline the caller shares between the calls of one incident or one tick)
and a per-call limit, and comes back as the parsed answer or as `Unavailable`: a typed, human-readable reason
("run history answered 403: the app's identity needs read access ...") that is safe to log and to show in an
email (no URL, no token, redacted). Nothing here raises for a 4xx/5xx, a timeout or a connection failure.

A bearer token goes only to the host the client was built for: paging links (`nextLink`) and discovered hosts
are checked against the allowed hosts before anything is sent, and redirects are never followed.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.azure.retry import deadline_retry_policy
from shared.core.redact import redact

log = logging.getLogger(__name__)

MIN_CALL_SECONDS = 1.0  # less than this left in the budget: do not start a call
USER_AGENT = "aml-pipeline-alerts"


class Budget:
    """The time left for best-effort calls: a deadline on a monotonic clock. `within(s)` gives a narrower budget
    (one incident inside a tick) that ends no later than this one; `calls` counts requests started under it."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 parent: Budget | None = None) -> None:
        self._clock = clock
        self.seconds = seconds
        self.deadline = clock() + seconds
        if parent is not None:
            self.deadline = min(self.deadline, parent.deadline)
        self._parent = parent
        self.calls = 0

    def remaining(self) -> float:
        return max(0.0, self.deadline - self._clock())

    def within(self, seconds: float) -> Budget:
        return Budget(seconds, clock=self._clock, parent=self)

    def count_call(self) -> None:
        budget: Budget | None = self
        while budget is not None:
            budget.calls += 1
            budget = budget._parent


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


@dataclass(frozen=True)
class Listing:
    """The items of a paged list; `complete` is False when paging stopped at `max_pages` or a stop condition
    with more pages left."""

    items: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """https, and a host that ends with one of the `.suffix` entries or equals (with port) one of the others."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return False
    host, netloc = parts.hostname.lower(), parts.netloc.rsplit("@", 1)[-1].lower()
    return any(host.endswith(entry.lower()) if entry.startswith(".") else netloc == entry.lower()
               for entry in allowed)


def with_query(url: str, **params: str) -> str:
    """`url` with these query parameters set (replacing any of the same name): a paging link keeps the client's
    api-version, as the generated SDK clients do."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()], safe="$")))


class JsonService:
    """GETs of JSON from one service, with a deadline-aware retry and an optional authentication policy."""

    def __init__(self, service: str, *, allowed_hosts: tuple[str, ...], auth_policy: Any = None,
                 call_seconds: float = 10.0, retry_total: int = 2, hints: Mapping[int, str] | None = None,
                 transport: Any = None) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            HeadersPolicy,
            HttpLoggingPolicy,
            RequestIdPolicy,
            UserAgentPolicy,
        )

        self.service = service
        self.allowed_hosts = allowed_hosts
        self.call_seconds = call_seconds
        self.hints = dict(hints or {})
        policies = [RequestIdPolicy(), HeadersPolicy({"Accept": "application/json"}), UserAgentPolicy(USER_AGENT),
                    deadline_retry_policy(service, retry_total=retry_total, min_call_seconds=MIN_CALL_SECONDS)]
        if auth_policy is not None:
            policies.append(auth_policy)
        policies.append(HttpLoggingPolicy())  # logs the URL without query values and without the token
        # No RedirectPolicy: a redirect is an answer (BAD_ANSWER), never a way for the token to reach another host.
        self._client: Any = PipelineClient("", policies=policies, transport=transport)

    def get_json(self, url: str, budget: Budget, *, params: Mapping[str, str] | None = None,
                 hints: Mapping[int, str] | None = None) -> dict[str, Any] | Unavailable:
        if params:
            url = with_query(url, **params)
        if not host_allowed(url, self.allowed_hosts):
            return Unavailable(self.service, Failure.REFUSED,
                               f"{self.service}: not called, {urlsplit(url).hostname or 'the host'} is not an "
                               "allowed https host for it")
        response = send(self._client, self.service, url, budget, self.call_seconds)
        if isinstance(response, Unavailable):
            return response
        if response.status_code != 200:
            return failure_from_response(self.service, response, {**self.hints, **(hints or {})})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Unavailable(self.service, Failure.BAD_ANSWER, f"{self.service} answered something that is not "
                               "a JSON object", response.status_code)
        return body

    def get_pages(self, url: str, budget: Budget, *, params: Mapping[str, str] | None = None,
                  keep_params: tuple[str, ...] = (), max_pages: int = 20,
                  stop: Callable[[list[dict[str, Any]]], bool] | None = None,
                  hints: Mapping[int, str] | None = None) -> Listing | Unavailable:
        """The `value` items of every page, following `nextLink` on the same host (with `keep_params` of the
        first request set on each link). `stop(page_items)` True ends paging early (the listing is then
        incomplete only if a link was left)."""
        items: list[dict[str, Any]] = []
        first = with_query(url, **params) if params else url
        kept = {k: v for k, v in (params or {}).items() if k in keep_params}
        link: str | None = first
        for _ in range(max_pages):
            if link is None:
                return Listing(items)
            if urlsplit(link).netloc.lower() != urlsplit(first).netloc.lower():
                return Unavailable(self.service, Failure.REFUSED, f"{self.service}: a paging link pointed to "
                                   "another host; not followed")
            page = self.get_json(with_query(link, **kept) if kept else link, budget, hints=hints)
            if isinstance(page, Unavailable):
                return page
            values = page.get("value")
            if not isinstance(values, list):
                return Unavailable(self.service, Failure.BAD_ANSWER, f"{self.service} answered a page without "
                                   "a list of values")
            items.extend(v for v in values if isinstance(v, dict))
            next_link = page.get("nextLink")
            link = next_link if isinstance(next_link, str) and next_link else None
            if link is not None and stop is not None and stop(values):
                return Listing(items, complete=False)
        return Listing(items, complete=link is None)


def send(client: Any, service: str, url: str, budget: Budget, call_seconds: float,
         headers: Mapping[str, str] | None = None) -> Any:
    """One GET (with its retries) inside min(call_seconds, what the budget has left): the azure-core response,
    or Unavailable for a timeout, a connection failure or a spent budget. The URL is never put into a message."""
    from azure.core.exceptions import AzureError, ServiceRequestTimeoutError, ServiceResponseTimeoutError
    from azure.core.rest import HttpRequest

    seconds = min(call_seconds, budget.remaining())
    if seconds < MIN_CALL_SECONDS:
        return Unavailable(service, Failure.OUT_OF_TIME, f"{service}: not read, the time for these details "
                           f"({budget.seconds:.0f} s) was spent")
    budget.count_call()
    try:
        return client.send_request(HttpRequest("GET", url, headers=dict(headers or {})), timeout=seconds,
                                   connection_timeout=seconds, read_timeout=seconds)
    except (ServiceRequestTimeoutError, ServiceResponseTimeoutError):
        return Unavailable(service, Failure.TIMEOUT, f"{service} did not answer within {seconds:.0f} s")
    except AzureError as err:  # its message may hold the URL (a SAS for blobs): only the type is kept
        return Unavailable(service, Failure.UNREACHABLE, f"{service} could not be reached ({type(err).__name__})")


def failure_from_response(service: str, response: Any, hints: Mapping[int, str]) -> Unavailable:
    """The Unavailable for a non-success answer, with the service's error code and message (redacted)."""
    status = response.status_code
    code, message = _error_fields(response)
    label = f"{status} {code}".strip()
    hint = hints.get(status) or redact(message)[:300]
    retry_after = response.headers.get("Retry-After")
    if status == 401:
        return Unavailable(service, Failure.UNAUTHORIZED, f"{service} refused the app's token ({label})"
                           + (f": {hint}" if hint else ""), status, code)
    if status in (429, 503) and (status == 429 or code == "ServerBusy" or retry_after):
        wait = f", Retry-After {retry_after} s" if retry_after else ""
        return Unavailable(service, Failure.THROTTLED, f"{service} is throttling the app ({label}{wait}); not "
                           "read this time", status, code)
    if status in (400, 404) and code in ("NoRegisteredProviderFound", "InvalidApiVersionParameter",
                                         "InvalidResourceType"):
        return Unavailable(service, Failure.UNSUPPORTED, f"{service} does not offer this api-version ({label})",
                           status, code)
    if status >= 500:
        return Unavailable(service, Failure.SERVER_ERROR, f"{service} answered {label}: the service failed; not "
                           "read this time", status, code)
    if 300 <= status < 400:
        return Unavailable(service, Failure.BAD_ANSWER, f"{service} answered a redirect ({status}); not followed",
                           status)
    failure = {403: Failure.FORBIDDEN, 404: Failure.NOT_FOUND}.get(status, Failure.CLIENT_ERROR)
    return Unavailable(service, failure, f"{service} answered {label}" + (f": {hint}" if hint else ""), status,
                       code)


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
