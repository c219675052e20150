"""Who hears about an incident, and whether a silence mutes it: plain functions over labels and rules."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.rules import Route, Silence

Router = Callable[[Mapping[str, str]], tuple[str, ...]]  # incident labels -> recipients


def recipients_for(labels: Mapping[str, str], routes: Iterable[Route], default: tuple[str, ...]) -> tuple[str, ...]:
    """The first matching route wins; no match goes to the default recipients."""
    for route in routes:
        if route.match.matches(dict(labels)):
            recipients = list(route.recipients) + (list(default) if route.also_default else [])
            return tuple(dict.fromkeys(recipients))  # de-duplicated, order kept
    return default


def is_watched(workspace: str, patterns: Sequence[str]) -> bool:
    """An empty list watches every workspace; otherwise the name must match a pattern (wildcards, any case)."""
    return not patterns or any(fnmatch.fnmatchcase(workspace.lower(), pattern.lower()) for pattern in patterns)


def silence_for(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> Silence | None:
    return next((s for s in silences if s.active(now) and s.match.matches(dict(labels))), None)
