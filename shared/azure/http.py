"""Best-effort HTTP on azure-core for the enrichment clients (ARM, run history, log blobs).

Every call runs inside a `Budget` (a deadline the caller shares between the calls of one incident or one tick)
and a per-call limit, and comes back as the parsed answer or as `Unavailable`: a typed, human-readable reason
("run history answered 403: the app's identity needs read access ...") that is safe to log and to show in an
email (no URL, no token, redacted). Nothing here raises for a 4xx/5xx, a timeout or a connection failure.

A bearer token goes only to the host the client was built for: paging links (`nextLink`) and discovered hosts
are checked against the allowed hosts before anything is sent, and redirects are never followed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.azure.failures import Failure, Unavailable, failure_from_response
from shared.azure.retry import deadline_retry_policy
from shared.core.budget import Budget

log = logging.getLogger(__name__)

MIN_CALL_SECONDS = 1.0  # less than this left in the budget: do not start a call
USER_AGENT = "aml-pipeline-alerts"


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
    return any(host.endswith(entry.lower()) if entry.startswith(".") else netloc == entry.lower() for entry in allowed)


def with_query(url: str, **params: str) -> str:
    """`url` with these query parameters set (replacing any of the same name): a paging link keeps the client's
    api-version, as the generated SDK clients do."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()], safe="$")))


class JsonService:
    """GETs of JSON from one service, with a deadline-aware retry and an optional authentication policy."""

    def __init__(
        self,
        service: str,
        *,
        allowed_hosts: tuple[str, ...],
        auth_policy: Any = None,
        call_seconds: float = 10.0,
        retry_total: int = 2,
        hints: Mapping[int, str] | None = None,
        transport: Any = None,
    ) -> None:
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
        policies = [
            RequestIdPolicy(),
            HeadersPolicy({"Accept": "application/json"}),
            UserAgentPolicy(USER_AGENT),
            deadline_retry_policy(service, retry_total=retry_total, min_call_seconds=MIN_CALL_SECONDS),
        ]
        if auth_policy is not None:
            policies.append(auth_policy)
        policies.append(HttpLoggingPolicy())  # logs the URL without query values and without the token
        # No RedirectPolicy: a redirect is an answer (BAD_ANSWER), never a way for the token to reach another host.
        self._client: Any = PipelineClient("", policies=policies, transport=transport)

    def get_json(
        self,
        url: str,
        budget: Budget,
        *,
        params: Mapping[str, str] | None = None,
        hints: Mapping[int, str] | None = None,
        post: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | Unavailable:
        """A JSON object by GET, or by POST of `post` (a read that takes its query as a body, e.g. `runs:query`)."""
        if params:
            url = with_query(url, **params)
        if not host_allowed(url, self.allowed_hosts):
            return Unavailable(
                self.service,
                Failure.REFUSED,
                f"{self.service}: not called, {urlsplit(url).hostname or 'the host'} is not an "
                "allowed https host for it",
            )
        response = send(self._client, self.service, url, budget, self.call_seconds, body=post)
        if isinstance(response, Unavailable):
            return response
        if response.status_code != 200:
            return failure_from_response(self.service, response, {**self.hints, **(hints or {})})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Unavailable(
                self.service,
                Failure.BAD_ANSWER,
                f"{self.service} answered something that is not a JSON object",
                response.status_code,
            )
        return body

    def get_pages(
        self,
        url: str,
        budget: Budget,
        *,
        params: Mapping[str, str] | None = None,
        keep_params: tuple[str, ...] = (),
        max_pages: int = 20,
        stop: Callable[[list[dict[str, Any]]], bool] | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> Listing | Unavailable:
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
                return Unavailable(
                    self.service,
                    Failure.REFUSED,
                    f"{self.service}: a paging link pointed to another host; not followed",
                )
            page = self.get_json(with_query(link, **kept) if kept else link, budget, hints=hints)
            if isinstance(page, Unavailable):
                return page
            values = page.get("value")
            if not isinstance(values, list):
                return Unavailable(
                    self.service, Failure.BAD_ANSWER, f"{self.service} answered a page without a list of values"
                )
            items.extend(v for v in values if isinstance(v, dict))
            next_link = page.get("nextLink")
            link = next_link if isinstance(next_link, str) and next_link else None
            if link is not None and stop is not None and stop(values):
                return Listing(items, complete=False)
        return Listing(items, complete=link is None)


def send(
    client: Any,
    service: str,
    url: str,
    budget: Budget,
    call_seconds: float,
    headers: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
) -> Any:
    """One GET, or a POST of the JSON `body` (with its retries) inside min(call_seconds, what the budget has
    left): the azure-core response, or Unavailable for a timeout, a connection failure or a spent budget. The
    URL is never put into a message."""
    from azure.core.exceptions import AzureError, ServiceRequestTimeoutError, ServiceResponseTimeoutError
    from azure.core.rest import HttpRequest

    seconds = min(call_seconds, budget.remaining())
    if seconds < MIN_CALL_SECONDS:
        return Unavailable(
            service,
            Failure.OUT_OF_TIME,
            f"{service}: not read, the time for these details ({budget.seconds:.0f} s) was spent",
        )
    budget.count_call()
    try:
        return client.send_request(
            HttpRequest("GET" if body is None else "POST", url, headers=dict(headers or {}), json=body),
            timeout=seconds,
            connection_timeout=seconds,
            read_timeout=seconds,
        )
    except (ServiceRequestTimeoutError, ServiceResponseTimeoutError):
        return Unavailable(service, Failure.TIMEOUT, f"{service} did not answer within {seconds:.0f} s")
    except AzureError as err:  # its message may hold the URL (a SAS for blobs): only the type is kept
        return Unavailable(service, Failure.UNREACHABLE, f"{service} could not be reached ({type(err).__name__})")
