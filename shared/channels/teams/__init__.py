"""Microsoft Teams: Adaptive Cards posted to Teams Workflows webhooks, as a channel (shared/outbox/channel.py).

A record for Teams names one destination (its `recipients` hold the destination's name, e.g. `ml-oncall`, whose
URL is the app setting TEAMS_WEBHOOK_ML_ONCALL): a route with several Teams destinations gives each its own
record, so each is sent, retried and given up on by itself. A webhook cannot be asked what became of a post
(`can_confirm` False): a post that may have arrived is sent again (at least once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.azure.entity_bounds import MINIMAL, REDUCED
from shared.channels.teams.card import Notice, Severity, teams_payload
from shared.channels.teams.destinations import TeamsDestination, setting_name
from shared.channels.teams.notices import notice_for
from shared.channels.teams.workflows import TeamsSendFailed, WorkflowsWebhook
from shared.detectors.base import ViewOptions
from shared.outbox.channel import SUCCEEDED
from shared.outbox.notices import NOTES
from shared.outbox.records import OutboxRecord

NAME = "teams"


class TeamsChannel:
    name = NAME
    can_confirm = False

    def __init__(
        self, destinations: Mapping[str, TeamsDestination], options: ViewOptions, *, transport: Any = None
    ) -> None:
        self._destinations = dict(destinations)
        self._options = options
        self._transport = transport
        self._clients: dict[str, WorkflowsWebhook] = {}

    def render(self, records: Sequence[OutboxRecord]) -> dict[str, Any]:
        return teams_payload([self.notice(record) for record in records])

    def notice(self, record: OutboxRecord) -> Notice:
        payload = record.payload
        if MINIMAL in payload:
            minimal = payload[MINIMAL]
            return Notice(f"{minimal['key']} (details could not be stored)", Severity.ATTENTION, [minimal["reason"]])
        notice = notice_for(record.kind, {k: v for k, v in payload.items() if k not in (REDUCED, NOTES)}, self._options)
        notes = [f"Note: {note}" for note in (payload.get(REDUCED), payload.get(NOTES)) if note]
        return replace(notice, summary=[*notice.summary, *notes]) if notes else notice

    def send(
        self,
        message: dict[str, Any],
        recipients: tuple[str, ...],
        operation_id: str,
        first_sent: datetime,
        *,
        wait: bool,
    ) -> str:
        """Post the card to the record's one destination; SUCCEEDED once Workflows accepted it (2xx)."""
        [name] = recipients
        destination = self._destinations.get(name)
        if destination is None:
            raise TeamsSendFailed(f"Teams destination '{name}' is not configured: set {setting_name(name)}")
        if name not in self._clients:
            self._clients[name] = WorkflowsWebhook(destination, transport=self._transport)
        self._clients[name].post(message)
        return SUCCEEDED

    def status(self, operation_id: str) -> str | None:
        return None  # a webhook cannot be asked; the delivery never calls this (can_confirm is False)
