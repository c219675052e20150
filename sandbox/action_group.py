"""Azure Monitor's side of one webhook call, as an action group makes it (`../shared/reference/azure-facts.md`):

    try; on 408, 429, 503, 504 or a network failure retry after 5, 20, 5, 40 and 5 seconds (at most 5 retries);
    stop at the first other answer: a 2xx is delivered, any other status (500, 4xx) is given up at once.

Azure's documented delays are fixed: it does not follow `Retry-After`. `sleep` is injectable so a simulation can
move its own clock instead of waiting; the tests use the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RETRY_DELAYS = (5, 20, 5, 40, 5)  # seconds before retry 1..5
RETRYABLE = frozenset({408, 429, 503, 504})


def deliver(post: Callable[[bytes], int], body: bytes, sleep: Callable[[float], None] = time.sleep,
            delays: tuple[float, ...] = RETRY_DELAYS) -> list[int]:
    """POST `body` as an action group does; returns every answer's status in order (None: network failure)."""
    statuses: list[int] = []
    for delay in (0, *delays):
        if delay:
            sleep(delay)
        try:
            status = post(body)
        except OSError:
            status = None
        statuses.append(status)
        if status is not None and status not in RETRYABLE:
            break
    return statuses
