"""An instance that dies mid-call: the Functions host recycles it (scale-in, deployment, out of memory) at the
worst moment, after ACS accepted an email and before the outcome is written to Table Storage.

There is no stand-in for a process being killed, so this wraps the app's own email channel (the real
`EmailChannel` over `AcsEmail`, talking to the sandbox) and raises `InstanceDied` right after a send returns.
`InstanceDied` is a BaseException: no `except Exception` in the app catches it, as nothing in a killed process
could. It is the local host loop's `HostDied`: a queue message whose consumer died stays locked until its lock runs
out, then shows again (sandbox/queue_host.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sandbox.queue_host import HostDied
from shared.outbox.channel import Channel
from shared.outbox.records import OutboxRecord


class InstanceDied(HostDied):
    """The instance was killed; the call ends here with nothing recorded."""


class DyingEmail:
    """The `inner` channel, except that a send for which `dies()` is true kills the instance just after ACS
    accepted it (or, `before_send`, just before the request left)."""

    def __init__(self, inner: Channel[Any], dies: Callable[[], bool], *, before_send: bool = False) -> None:
        self._inner = inner
        self._dies = dies
        self._before_send = before_send
        self.deaths = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def can_confirm(self) -> bool:
        return self._inner.can_confirm

    def render(self, records: Sequence[OutboxRecord]) -> Any:
        return self._inner.render(records)

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
