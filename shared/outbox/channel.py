"""The channel interface, owned by the delivery (after Alertmanager's Notifier): how a message is made from
incident records, sent to its recipients, and, for a channel that can be asked, how an attempt ended.

A channel sends each message under an operation id that the delivery records before the send (write-ahead), and
that is deterministic for the message's incidents and their attempt, so a repeat of one attempt is recognisable.
What the delivery does with the answers is outbox/records.py's decision table:

    send -> SUCCEEDED        delivered: sent
    send -> RUNNING          accepted, final status not known: checked on a later tick (status)
    send raises SendFailed   in_doubt=False: not sent, retried with backoff under a new operation id
                             in_doubt=True: it may have gone out; a channel that can_confirm is asked before any
                             re-send; one that cannot (a Teams webhook) is re-sent, as at-least-once
    status(id) -> None       the channel never got that operation: send it again
    status(id) -> "Failed"/"Canceled" (any case) -> retried; SUCCEEDED -> sent; anything else -> still running
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from shared.outbox.records import OutboxRecord

SUCCEEDED = "Succeeded"  # delivered (the word of Azure's long-running operations, which ACS Email uses)
RUNNING = "Running"  # accepted by the channel, final status not known yet
FAILED = ("failed", "canceled")  # final: not delivered

Message = TypeVar("Message")


class SendFailed(Exception):
    """The message was not accepted or not delivered; the outbox retries it later.

    `in_doubt`: the channel may have accepted it all the same (no answer, a 5xx, a 409 "still in progress", a 412
    "first sent too long ago"): a channel that can be asked is asked before the message is sent again."""

    def __init__(self, message: str, *, in_doubt: bool) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt


class Channel(Protocol[Message]):
    @property
    def name(self) -> str:
        """Its name in the channel table and in routes (`channel: email`)."""
        ...

    @property
    def can_confirm(self) -> bool:
        """Whether `status` can tell what became of an attempt (ACS Email can; a Teams webhook cannot)."""
        ...

    def render(self, records: Sequence[OutboxRecord]) -> Message:
        """One record's message, or one digest of several (the storm guard). Raises on a rendering bug: the
        delivery records it as a failed attempt of those records."""
        ...

    def send(
        self, message: Message, recipients: tuple[str, ...], operation_id: str, first_sent: datetime, *, wait: bool
    ) -> str:
        """Send under `operation_id` (first sent at `first_sent`); SUCCEEDED or RUNNING (`wait`: wait a little
        for the final status, else return once accepted). Raises SendFailed."""
        ...

    def status(self, operation_id: str) -> str | None:
        """What became of an operation (can_confirm channels only); None when the channel does not know it.
        Raises SendFailed (in doubt) when it cannot be asked now."""
        ...
