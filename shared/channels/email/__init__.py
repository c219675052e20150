"""The email channel: ACS Email (acs.py), rendered from each kind's view through Jinja2 templates (render.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.channels.email.acs import AcsEmail, Email
from shared.channels.email.render import digest_entry, render_digest, render_incident
from shared.detectors.base import ViewOptions
from shared.outbox.records import OutboxRecord

NAME = "email"


class EmailChannel:
    """Channel (shared/outbox/channel.py) over ACS Email: idempotent sends under the operation id (Operation-Id and
    the repeatable-request headers), and ACS can be asked what became of an operation."""

    name = NAME
    can_confirm = True

    def __init__(self, acs: AcsEmail, options: ViewOptions) -> None:
        self.acs = acs
        self._options = options

    def render(self, records: Sequence[OutboxRecord]) -> Email:
        if len(records) == 1:
            return render_incident(records[0].kind, records[0].payload, self._options)
        return render_digest([digest_entry(record, self._options) for record in records])

    def send(
        self, message: Email, recipients: tuple[str, ...], operation_id: str, first_sent: datetime, *, wait: bool
    ) -> str:
        return self.acs.send(message, recipients, operation_id, first_sent, wait=wait)

    def status(self, operation_id: str) -> str | None:
        return self.acs.status(operation_id)
