"""KQL literals. Every value that reaches a query goes through here, so no input can change a query's meaning."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def kql_string(value: str) -> str:
    """A double-quoted KQL string literal; backslash, quote and control characters are escaped."""
    escaped = []
    for char in value:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def kql_string_list(values: Iterable[str]) -> str:
    """`("a", "b")` for `in` / `in~`; an empty list becomes `("")` so the query stays valid and matches nothing real."""
    literals = [kql_string(value) for value in values]
    return "(" + ", ".join(literals or ['""']) + ")"


def kql_datetime(moment: datetime) -> str:
    """`datetime(2026-01-02T03:04:05.123456Z)` from an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("KQL datetimes must be timezone-aware")
    return "datetime(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"
