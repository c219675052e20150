"""azure-core's RetryPolicy with a deadline: honour `Retry-After`, but never wait past the call's time.

azure-core's RetryPolicy retries a 429 or 5xx (and any answer with `Retry-After`) and sleeps for the whole
`Retry-After` however long it is; its `timeout` is checked only before the next try, after the sleep. Inside a
timer function with a schedule, or an alert's enrichment with its own budget, that is a way to overrun. This
policy keeps the SDK's behaviour (honour `Retry-After`, else exponential backoff; at most `retry_total` retries)
but refuses a retry whose wait would end past the call's deadline (its `timeout` keyword: the time the caller
has left): the last answer goes back to the caller at once, and a later tick tries again.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

log = logging.getLogger(__name__)


def deadline_retry_policy(service: str, *, retry_total: int = 3, min_call_seconds: float = 5.0) -> Any:
    """A RetryPolicy for `service` (named in its log line) that leaves `min_call_seconds` for the retried call."""
    return _policy_class()(service=service, min_call_seconds=min_call_seconds, retry_total=retry_total)


@cache
def _policy_class() -> type:
    """Built on first use: azure-core is imported only by the code paths that call Azure."""
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.policies import RetryPolicy

    class DeadlineRetryPolicy(RetryPolicy):
        def __init__(self, *, service: str, min_call_seconds: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.service = service
            self.min_call_seconds = min_call_seconds

        def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
            settings = super().configure_retries(options)
            settings["deadline"] = time.monotonic() + settings["timeout"]
            return settings

        def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
            if not super().increment(settings, response=response, error=error):
                return False
            wait = self.get_retry_after(response) if isinstance(response, PipelineResponse) else None
            wait = wait or self.get_backoff_time(settings)  # what `sleep` will do next
            if time.monotonic() + wait + self.min_call_seconds > settings["deadline"]:
                log.info("%s: not retrying after %.0f s, past this call's deadline", self.service, wait)
                return False
            return True

    return DeadlineRetryPolicy
