"""A time budget for best-effort work: a deadline on a monotonic clock (the wall clock `now` may jump).

One type for every budget the app keeps: a webhook request's, an enrichment's, a tick's calls to Azure ML. A
narrower budget (one incident inside a tick) comes from `within` and never ends later than its parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Budget:
    """`remaining()` is what is left; `calls` counts the requests started under it (and under its children)."""

    def __init__(
        self, seconds: float, *, clock: Callable[[], float] = time.monotonic, parent: Budget | None = None
    ) -> None:
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
