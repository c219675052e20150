"""An instance that dies mid-call: the Functions host recycles it (scale-in, deployment, out of memory) at the
worst moment, after ACS accepted an email and before the outcome is written to Table Storage.

There is no stand-in for a process being killed, so this wraps the app's own email client (the real
`AcsEmail`, talking to the sandbox) and raises `InstanceDied` right after a send returns. `InstanceDied` is a
BaseException: no `except Exception` in the app catches it, as nothing in a killed process could.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class InstanceDied(BaseException):
    """The instance was killed; the call ends here with nothing recorded."""


class DyingEmail:
    """`inner`'s sends and status reads, except that a send for which `dies()` is true kills the instance just
    after ACS accepted it (or, `before_send`, just before the request left)."""

    def __init__(self, inner: Any, dies: Callable[[], bool], *, before_send: bool = False) -> None:
        self._inner = inner
        self._dies = dies
        self._before_send = before_send
        self.deaths = 0

    def send(self, *args: Any, **kwargs: Any) -> Any:
        if self._before_send and self._dies():
            self.deaths += 1
            raise InstanceDied("killed before the email was sent")
        outcome = self._inner.send(*args, **kwargs)
        if not self._before_send and self._dies():
            self.deaths += 1
            raise InstanceDied("killed after ACS accepted the email, before its outcome was recorded")
        return outcome

    def status(self, operation_id: str) -> str | None:
        return self._inner.status(operation_id)
