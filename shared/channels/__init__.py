"""THE CHANNEL TABLE: name -> factory (after ElastAlert2's alerter table). A route names its channel (`channel:`
in rules.yaml, `email` by default); the delivery holds the channels built from this table by name.

A new channel: one folder here whose channel implements shared/outbox/channel.py's `Channel`, rendering each
kind from its detector's `view` (the registry), and one line below. docs/architecture.md says more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.channels.teams.destinations import TeamsDestination
    from shared.outbox.channel import Channel
    from shared.settings import Settings


@dataclass(frozen=True)
class ChannelDeps:
    """What a channel is built from."""

    settings: Settings
    credential: TokenCredential


ChannelFactory = Callable[[ChannelDeps], "Channel[Any]"]


def _email(deps: ChannelDeps) -> Channel[Any]:
    from shared.channels.email import EmailChannel
    from shared.channels.email.acs import AcsEmail
    from shared.detectors.base import ViewOptions

    s = deps.settings
    return EmailChannel(AcsEmail(s.acs_endpoint, deps.credential, s.email_sender), ViewOptions(s.studio_tenant_id))


def _teams(deps: ChannelDeps) -> Channel[Any]:
    from shared.channels.teams import TeamsChannel
    from shared.detectors.base import ViewOptions

    return TeamsChannel(teams_destinations(deps.settings), ViewOptions(deps.settings.studio_tenant_id))


CHANNELS: dict[str, ChannelFactory] = {
    "email": _email,
    "teams": _teams,
}


def teams_destinations(settings: Settings) -> dict[str, TeamsDestination]:
    """The TEAMS_WEBHOOK_<NAME> settings; a bad one is a SettingsError that names it (never its URL)."""
    from shared.channels.teams.destinations import TeamsSettingsError
    from shared.channels.teams.destinations import teams_destinations as read
    from shared.settings import SettingsError

    try:
        return read(settings.teams_webhooks, allow_loopback=settings.credential_kind == "emulator")
    except TeamsSettingsError as err:
        raise SettingsError(str(err)) from None


def route_targets(settings: Settings) -> tuple[str, ...]:
    """What a route may name: each channel of the table by its name (`email`), except Teams, which is named with
    its destination: `teams:<destination>` for each configured one."""
    teams = (f"teams:{name}" for name in sorted(teams_destinations(settings)))
    return (*(name for name in CHANNELS if name != "teams"), *teams)
