"""Seed documents: what `python -m sandbox --seed FILE.json` (and `--demo-data`) loads. The format is in
docs/sandbox-seeds.md; examples/seeds/demo.json is one.

Times may be written relative to the sandbox clock (``now``, ``now-25m``, ``now-90s``, ``now+1h``), so a seed
file shipped with the repo is as fresh on the day it is loaded as on the day it was written.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .timeutil import format_datetime

DEMO_SEED = Path(__file__).resolve().parent.parent / "examples" / "seeds" / "demo.json"
_RELATIVE = re.compile(r"^now(?:([+-])(\d+)([smhd]))?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def relative_time(text: str, now: datetime) -> str | None:
    """``now-25m`` -> the ISO 8601 time 25 minutes before *now*; None when *text* is not a relative time."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    offset = timedelta(**{_UNITS[unit]: int(amount)}) if amount else timedelta(0)
    return format_datetime(now - offset if sign == "-" else now + offset)


def resolve_times(value: Any, now: datetime) -> Any:
    """The seed with every relative time replaced by an ISO 8601 one (documentation keys ``_about`` dropped)."""
    if isinstance(value, dict):
        return {key: resolve_times(item, now) for key, item in value.items() if key != "_about"}
    if isinstance(value, list):
        return [resolve_times(item, now) for item in value]
    if isinstance(value, str):
        return relative_time(value, now) or value
    return value
