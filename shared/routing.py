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
    recipients: tuple[str, ...]
    links: tuple[tuple[str, str], ...] = ()  # the route's (label, url): Runbook, Owner


Router = Callable[[Mapping[str, str]], Destination]  # incident labels -> where it goes


def destination_for(labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]) -> Destination:
    """The first matching route wins; no match goes to the default recipients by email."""
    for route in routes:
        if route.match.matches(dict(labels)):
            recipients = list(route.recipients) + (list(default) if route.also_default else [])
            links = tuple((label, url) for label, url in (("Runbook", route.runbook), ("Owner", route.owner)) if url)
            return Destination(route.channel, tuple(dict.fromkeys(recipients)), links)  # de-duplicated, order kept
    return Destination(DEFAULT_CHANNEL, default)


def recipients_for(labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]) -> tuple[str, ...]:
    return destination_for(labels, routes, default).recipients
