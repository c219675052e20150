"""Who hears about an incident, and on which channel: plain functions over labels and the rules file's routes.
Whether a silence mutes it is shared/silences.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.rules import DEFAULT_CHANNEL

if TYPE_CHECKING:
    from shared.rules import Route


@dataclass(frozen=True)
class Destination:
    channel: str  # a name in the channel table (shared/channels/__init__.py)
    recipients: tuple[str, ...]  # email addresses; for Teams, the one destination's name
    links: tuple[tuple[str, str], ...] = ()  # the route's (label, url): Runbook, Owner

    @property
    def target(self) -> str:
        """How a route names it: `email`, `teams:ml-oncall`."""
        return self.channel if self.channel == DEFAULT_CHANNEL else f"{self.channel}:{','.join(self.recipients)}"


Router = Callable[[Mapping[str, str]], tuple[Destination, ...]]  # incident labels -> where it goes


def destinations_for(
    labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]
) -> tuple[Destination, ...]:
    """The first matching route wins, one destination per target; no match goes to the default recipients by
    email."""
    for route in routes:
        if route.match.matches(dict(labels)):
            recipients = list(route.recipients) + (list(default) if route.also_default else [])
            unique = tuple(dict.fromkeys(recipients))  # de-duplicated, order kept
            links = tuple((label, url) for label, url in (("Runbook", route.runbook), ("Owner", route.owner)) if url)
            return tuple(_destination(target, unique, links) for target in route.targets)
    return (Destination(DEFAULT_CHANNEL, default),)


def _destination(target: str, recipients: tuple[str, ...], links: tuple[tuple[str, str], ...]) -> Destination:
    channel, _, name = target.partition(":")
    return Destination(channel, (name,) if name else recipients, links)


def destination_for(labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]) -> Destination:
    """The first destination (where an incident's own outbox record goes; the others get copies)."""
    return destinations_for(labels, routes, default)[0]


def recipients_for(labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]) -> tuple[str, ...]:
    return destination_for(labels, routes, default).recipients
