"""Parsing and formatting of the time values the three services exchange.

Kept in one place because every service speaks a slightly different dialect: Log Analytics accepts
``PT172800.0S`` (LogsQueryClient sends fractional seconds), Metrics sends ``...Z`` datetimes, and seed files
and control requests may hold naive strings. Everything inside the sandbox is an aware UTC datetime.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_datetime(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 string; naive values are taken as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and no trailing zero fraction, as the services write it."""
    value = parse_datetime(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration limited to days and time parts (what the SDKs send: ``PT48H``, ``PT172800.0S``)."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


def format_duration(value: timedelta) -> str:
    """ISO 8601 duration such as ``PT5M`` or ``PT1H``: the form Metrics echoes back as ``interval``."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return text if text != "PT" else "PT0S"


def parse_timespan(text: str, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end] a Log Analytics ``timespan`` names: ``start/end``, ``start/duration`` or a duration
    that ends now (the sandbox clock, not the wall clock)."""
    if "/" in text:
        first, second = text.split("/", 1)
        start = parse_datetime(first)
        if second.upper().startswith("P"):
            return start, start + parse_duration(second)
        return start, parse_datetime(second)
    return now - parse_duration(text), now


def format_timespan_kusto(value: timedelta) -> str:
    """Kusto's ``timespan`` text form, ``[d.]hh:mm:ss[.fffffff]``, for interval-typed result columns."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{value.days}." if value.days else sign
    text += f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return text
