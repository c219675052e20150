"""What the sections of the rules file share (shared/rules/__init__.py imports the sections, so they cannot import
it back)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently mean "default"); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def any_case(*choices: str) -> Callable[[Any], Any]:
    """A before-validator for an enum written in any case (`average` is `Average`); other input passes through
    to the Literal's own check and its message."""
    canonical = {choice.lower(): choice for choice in choices}
    return lambda value: canonical.get(value.lower(), value) if isinstance(value, str) else value


def pattern_matches(pattern: str | None, value: str) -> bool:
    """Shell-style wildcards, any case; an absent pattern matches everything."""
    return pattern is None or fnmatch.fnmatchcase(value.lower(), pattern.lower())


def is_watched(workspace: str, patterns: Sequence[str]) -> bool:
    """An empty list watches every workspace; otherwise the name must match a pattern (wildcards, any case)."""
    return not patterns or any(fnmatch.fnmatchcase(workspace.lower(), pattern.lower()) for pattern in patterns)


def iso_duration(value: timedelta) -> str:
    """`PT2H30M`, `P7D`: how the rules file writes durations, for error messages."""
    days, seconds = value.days, int(value.total_seconds()) - value.days * 86400
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return ("P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")) if (days or time) else "PT0S"
