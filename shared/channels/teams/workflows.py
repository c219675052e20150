"""Posting to a Teams Workflows webhook (azure-core pipeline, no credential: the URL's `sig=` authorises).

Answers: 2xx accepted (Workflows answers 202 with no body, then runs the flow; a card the flow cannot post fails
in the flow's run history, which the sender never sees); 408, 429 and 5xx retryable, with their Retry-After;
anything else permanent (400 malformed, 401 bad signature, 403 caller not allowed, 404 no such workflow, 413
too large). A few retries happen here, honouring Retry-After up to `max_retry_wait` seconds; a longer wait, or a
transport error, ends the call with TeamsSendFailed and the outbox tries again later. A transport error is not
retried here: a POST that may have reached the flow could post the card twice (Workflows has no idempotency
key); the outbox's later retry accepts that risk once rather than several times.

The URL is a secret. Nothing here puts it in a log record or an exception:
- the pipeline has no NetworkTraceLoggingPolicy (it logs full URLs when enabled) and no tracing policy;
  HttpLoggingPolicy logs the URL with every query value but `api-version` replaced by REDACTED;
- urllib3 logs the request line, query included, at DEBUG (and in its retry warnings): a filter on its
  logger replaces any `sig=` value with REDACTED;
- transport exceptions quote the URL (requests: "Max retries exceeded with url: /...?...&sig=..."): a failure
  is described by its kind only, and raised outside the `except` block, so no exception chain carries it;
- errors name the destination (`TEAMS_WEBHOOK_<NAME>`'s name), never the URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

from shared.channels.teams.card import encode_payload
from shared.channels.teams.destinations import TeamsDestination
from shared.outbox.channel import SendFailed

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
_SIGNATURE = re.compile(r"([?&]sig=)[^&\s\"'#]+", re.IGNORECASE)
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


class TeamsSendFailed(SendFailed):
    """The card was not accepted. `permanent`: sending it again will fail the same way until someone fixes the
    webhook or its setting; `retry_after`: the seconds the service asked to wait, if it did; `in_doubt`: the
    connection failed after the card was sent, so it may be in the channel (Workflows offers no way to ask, so
    sending again risks a second card). The message names the destination, never its URL."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(reason, in_doubt=in_doubt)
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after


class WorkflowsWebhook:
    """The client of one Teams destination."""

    def __init__(
        self,
        destination: TeamsDestination,
        *,
        retry_total: int = 2,
        max_retry_wait: float = 10.0,
        timeout: float = 60.0,
        transport: Any = None,
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HttpLoggingPolicy, UserAgentPolicy

        _redact_signatures(logging.getLogger("urllib3.connectionpool"))
        self.destination = destination
        retry = _retry_policy()(max_retry_wait, retry_total=retry_total, timeout=timeout)
        self._client: Any = PipelineClient(
            f"https://{destination.host}",
            transport=transport,
            policies=[UserAgentPolicy(sdk_moniker="aml-pipeline-alerts-teams"), retry, HttpLoggingPolicy()],
        )
        self.posts = 0

    def __repr__(self) -> str:
        return f"WorkflowsWebhook({self.destination.name!r}, host={self.destination.host!r})"

    def post(self, payload: Mapping[str, Any]) -> int:
        """POST the Workflows payload; returns the 2xx status. Raises TeamsSendFailed."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            "POST",
            self.destination.url,
            content=encode_payload(dict(payload)),
            headers={"Content-Type": "application/json"},
        )
        self.posts += 1
        failure: TeamsSendFailed | None = None
        try:
            response = self._client.send_request(request)
        except AzureError as err:  # its message quotes the URL: only its kind is kept
            problem, in_doubt = _transport_problem(err)
            failure = TeamsSendFailed(f"{self._name}: {problem}; tried again later", in_doubt=in_doubt)
        if failure is not None:
            raise failure  # outside the except block: no __context__ holding the URL
        if 200 <= response.status_code < 300:
            return response.status_code
        raise _refusal(self._name, self.destination.setting, response)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WorkflowsWebhook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def _name(self) -> str:
        return f"Teams destination '{self.destination.name}'"


_HINTS = {
    400: "the workflow refused the payload as malformed",
    401: "the signature was refused: the URL in {setting} is incomplete or was regenerated; copy it again from "
    "the Workflows trigger",
    403: "the flow refused the caller: its trigger must let 'Anyone' trigger the flow",
    404: "no such workflow: it was deleted, or the URL in {setting} is wrong",
    413: "the card is larger than the flow accepts",
}


def _refusal(name: str, setting: str, response: Any) -> TeamsSendFailed:
    status = response.status_code
    code = _error_code(response)
    retry_after = _retry_after(response.headers)
    label = f"{name}: HTTP {status}" + (f" {code}" if code else "")
    if status in RETRYABLE:
        wait = f" (Retry-After {retry_after:.0f} s)" if retry_after is not None else ""
        return TeamsSendFailed(
            f"{label}{wait}: the service is busy or failing; tried again later", status=status, retry_after=retry_after
        )
    hint = _HINTS.get(status, "unexpected redirect, not followed" if 300 <= status < 400 else "refused")
    return TeamsSendFailed(f"{label}: {hint.format(setting=setting)}", status=status, permanent=True)


def _error_code(response: Any) -> str:
    """The Logic Apps error code of the body (`{"error": {"code": ...}}`), if it looks like one."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else ""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _transport_problem(err: Exception) -> tuple[str, bool]:
    """What went wrong, and whether the card may have reached the flow all the same."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    if isinstance(err, ServiceRequestError):  # also its timeout: connecting took too long
        return "could not connect (the card was not sent)", False
    if isinstance(err, ServiceResponseError):
        return "no answer after the card was sent (it may have been posted)", True
    return f"failed ({type(err).__name__}; it may have been posted)", True


class _RedactSignatures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "sig=" in message.lower():
            record.msg, record.args = _SIGNATURE.sub(r"\1REDACTED", message), None
        return True


def _redact_signatures(logger: logging.Logger) -> None:
    if not any(isinstance(existing, _RedactSignatures) for existing in logger.filters):
        logger.addFilter(_RedactSignatures())


@cache
def _retry_policy() -> type:
    """Built on first use: azure-core is imported only by the code paths that call Azure."""
    from azure.core.pipeline.policies import RetryPolicy

    class BoundedRetryPolicy(RetryPolicy):
        """Retries only 408, 429 and 5xx answers (never another 4xx, even one with Retry-After), and only when
        the service's Retry-After is at most `max_wait` seconds."""

        def __init__(self, max_wait: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.max_wait = max_wait

        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            if not settings["total"] or response.http_response.status_code not in RETRYABLE:
                return False
            wait = self.get_retry_after(response)
            return wait is None or wait <= self.max_wait

    return BoundedRetryPolicy
