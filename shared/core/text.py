"""Text every message shows the same way: times in UTC, and one-line titles."""

from __future__ import annotations

from datetime import datetime


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def one_line(subject: str, limit: int = 200) -> str:
    """Untrusted run ids and names end up in subjects and titles: no header folding tricks, bounded length."""
    flat = " ".join(subject.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def first_line(text: str, limit: int = 200) -> str:
    """The first non-blank line of an error text, on one line and bounded: what a digest shows of it."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    return one_line(line, limit)


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
