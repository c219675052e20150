"""Reading Log Analytics result cells as the SDK returns them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    # The SDK returns null guid/string cells as the string 'None'.
    return "" if value is None or value == "None" else str(value).strip()


def moment(value: Any) -> datetime | None:
    """A datetime cell (aware datetime, or ISO text) in UTC; None for a null cell."""
    if value is None or value in {"None", ""}:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.astimezone(UTC)
