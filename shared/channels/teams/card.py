"""Adaptive Cards for Teams (pure): one notice, or a digest of several, in the Workflows webhook payload.

Schema version 1.4. Teams renders Adaptive Cards up to 1.5 and Microsoft states no version for the Workflows
"post card" action, so 1.4 is the safe choice (../shared/reference/teams.md). The card uses nothing newer than
1.2 (RichTextBlock, ActionSet, container styles): it reads the same on every current Teams client.

Untrusted text (pipeline names, error text, log lines, anything from an incident) goes only into TextRuns of a
RichTextBlock, which the schema defines as plain text ("Markdown is not supported", adaptivecards.io explorer,
TextRun). The card has no TextBlock and no FactSet, the elements Teams reads as markdown, and no `msteams`
mention entities, so `[text](https://elsewhere)`, `**bold**` or `<at>everyone</at>` in an error message show as
typed: nothing in it becomes a link or a mention, and no escaping can be got wrong. Control and bidirectional
override characters are dropped.

Links: Action.OpenUrl only to Azure's own hosts (`LINK_HOSTS`, https, default port); any other URL is shown
as its host in plain text, never opened from the card.

Size: Microsoft documents "about 28 KB" per Teams message (the Teams connector's message size limit, which
fails the post with "Request Entity too large"; also the incoming-webhook limit), counted after Teams adds its
own markup. The payload here stays within `MAX_PAYLOAD_BYTES` = 20,000 bytes of UTF-8 JSON, as sent: each text
is capped, then excerpt lines, facts, summary lines (a notice) or whole entries (a digest) are left out until
it fits, and the card says how many were left out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

SCHEMA_VERSION = "1.4"
MAX_PAYLOAD_BYTES = 20_000
LINK_HOSTS = frozenset(
    {
        "ml.azure.com",
        "portal.azure.com",  # Azure ML studio, Azure portal
        "ml.azure.us",
        "portal.azure.us",
        "studio.ml.azure.cn",
        "portal.azure.cn",  # sovereign clouds
    }
)
TITLE_CHARS, LINE_CHARS, LABEL_CHARS, VALUE_CHARS = 200, 400, 60, 300
SUMMARY_LINES, FACTS, LINKS = 5, 12, 4
EXCERPT_LINES, EXCERPT_LINE_CHARS = 20, 200
URL_CHARS = 2048
DIGEST_ENTRIES, DIGEST_FACTS, DIGEST_LINKS = 20, 4, 2

# C0/C1 controls (but newline) and the bidi embedding/override/isolate marks that can reorder what is shown.
_HIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Severity(StrEnum):
    """The notice's colour: the Adaptive Card container styles."""

    ATTENTION = "attention"  # failed, firing, stuck
    WARNING = "warning"  # a reminder, something to look at
    GOOD = "good"  # resolved, finished


@dataclass(frozen=True)
class Notice:
    """What a channel shows of one incident, channel-neutral. `facts` are (label, value) pairs, `links` are
    (title, url) pairs, `excerpt` is shown in monospace, its last lines kept (the end of a log)."""

    title: str
    severity: Severity
    summary: Sequence[str] = ()
    facts: Sequence[tuple[str, str]] = ()
    excerpt: str = ""
    links: Sequence[tuple[str, str]] = ()


def teams_payload(notices: Sequence[Notice]) -> dict[str, Any]:
    """The Workflows payload for one notice (its card) or several (a digest card)."""
    if not notices:
        raise ValueError("no notice to render")
    return workflows_payload(notice_card(notices[0]) if len(notices) == 1 else digest_card(notices))


def workflows_payload(card: dict[str, Any]) -> dict[str, Any]:
    """The body a Workflows webhook takes: a `message` with the card as its one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The bytes posted (and measured against MAX_PAYLOAD_BYTES)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def link_url(url: str) -> str | None:
    """`url` if the card may open it: https on an Azure host of LINK_HOSTS, default port, no credentials."""
    if not isinstance(url, str) or len(url) > URL_CHARS or re.search(r"[\s\"'<>\\`]", url) or _HIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
        allowed = (
            parts.scheme == "https"
            and (parts.hostname or "") in LINK_HOSTS
            and parts.port in (None, 443)
            and parts.username is None
            and parts.password is None
        )
    except ValueError:
        return None
    return url if allowed else None


def notice_card(notice: Notice) -> dict[str, Any]:
    """The card of one notice; what does not fit (more than the caps, or past the size limit) is counted."""
    summary = [line for line in (_line(text, LINE_CHARS) for text in notice.summary) if line]
    facts = [(_line(label, LABEL_CHARS), _line(value, VALUE_CHARS)) for label, value in notice.facts]
    dropped = max(0, len(summary) - SUMMARY_LINES) + max(0, len(facts) - FACTS)
    summary, facts = summary[:SUMMARY_LINES], facts[:FACTS]
    excerpt = _tail(notice.excerpt)
    actions, shown_as_text = _links(notice.links, LINKS)
    while True:
        body = [_banner(notice.title, notice.severity)]
        body += [_text(line) for line in summary]
        body += [_fact(label, value) for label, value in facts]
        body += [_text(f"{title}: {host} (not an Azure link: not opened from Teams)") for title, host in shown_as_text]
        if dropped:
            body.append(_text(f"{dropped} more line(s) not shown here", subtle=True))
        if excerpt:
            body.append(_excerpt(excerpt))
        card = _card(body, actions)
        if _fits(card):
            return card
        # Least useful first: the oldest excerpt lines, then the last facts, then the last summary lines.
        for part in (excerpt, facts, summary, shown_as_text):
            if part:
                part.pop(0 if part is excerpt else -1)
                dropped += 1
                break
        else:
            raise AssertionError("a card with only its title and links cannot exceed the size limit")


def digest_card(notices: Sequence[Notice]) -> dict[str, Any]:
    """One card listing several notices (a storm): each with its title, first summary line, a few facts and
    links; as many as fit, then how many more there are."""
    entries = [_digest_entry(notice) for notice in notices[:DIGEST_ENTRIES]]
    worst = min((notice.severity for notice in notices), key=list(Severity).index)
    while True:
        more = len(notices) - len(entries)
        body = [_banner(f"{len(notices)} notices", worst), *entries]
        if more:
            body.append(_text(f"… and {more} more not shown here", subtle=True))
        card = _card(body, [])
        if _fits(card) or not entries:
            return card
        entries.pop()


def _digest_entry(notice: Notice) -> dict[str, Any]:
    items = [_text(_line(notice.title, TITLE_CHARS), weight="bolder")]
    items += [_text(_line(line, LINE_CHARS)) for line in notice.summary[:1] if _line(line, LINE_CHARS)]
    items += [
        _fact(_line(label, LABEL_CHARS), _line(value, VALUE_CHARS)) for label, value in notice.facts[:DIGEST_FACTS]
    ]
    actions, _ = _links(notice.links, DIGEST_LINKS)
    if actions:
        items.append({"type": "ActionSet", "actions": actions})
    return {
        "type": "Container",
        "style": Severity(notice.severity).value,
        "separator": True,
        "spacing": "medium",
        "items": items,
    }


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": SCHEMA_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def _fits(card: dict[str, Any]) -> bool:
    return len(encode_payload(workflows_payload(card))) <= MAX_PAYLOAD_BYTES


def _banner(title: str, severity: Severity) -> dict[str, Any]:
    return {
        "type": "Container",
        "style": Severity(severity).value,
        "bleed": True,
        "items": [_text(_line(title, TITLE_CHARS) or "(untitled)", weight="bolder", size="large")],
    }


def _text(text: str, *, subtle: bool = False, **style: str) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": text, **style}
    if subtle:
        run["isSubtle"] = True
    return {"type": "RichTextBlock", "inlines": [run]}


def _fact(label: str, value: str) -> dict[str, Any]:
    return {
        "type": "RichTextBlock",
        "spacing": "none",
        "inlines": [{"type": "TextRun", "text": f"{label}: ", "weight": "bolder"}, {"type": "TextRun", "text": value}],
    }


def _excerpt(lines: list[str]) -> dict[str, Any]:
    return {
        "type": "Container",
        "style": "emphasis",
        "items": [
            {
                "type": "RichTextBlock",
                "spacing": "none",
                "inlines": [{"type": "TextRun", "text": _indented(line), "fontType": "monospace", "size": "small"}],
            }
            for line in lines
        ],
    }


def _indented(line: str) -> str:
    """Leading spaces as no-break spaces: the clients collapse ordinary ones, and a traceback needs its indent."""
    text = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(text)) + text if text else "\u00a0"


def _links(links: Sequence[tuple[str, str]], limit: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """(OpenUrl actions for Azure links, (title, host) of the others), at most `limit` in all."""
    actions, others = [], []
    for title, url in list(links)[:limit]:
        label = _line(title, LABEL_CHARS) or "Open"
        if link_url(url):
            actions.append({"type": "Action.OpenUrl", "title": label, "url": url})
        else:
            others.append((label, _host(url)))
    return actions, others


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        host = None
    return _line(host or "an invalid link", LABEL_CHARS)


def _clean(text: Any) -> str:
    return _HIDDEN.sub("", unicodedata.normalize("NFC", str(text).replace("\t", "    ")))


def _line(text: Any, limit: int) -> str:
    """One line of plain text, at most `limit` characters."""
    flat = " ".join(_clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tail(text: str) -> list[str]:
    """The last EXCERPT_LINES lines, each cut at EXCERPT_LINE_CHARS; indentation kept."""
    lines = _clean(text).rstrip().splitlines() if text else []
    kept = [
        line.rstrip() if len(line) <= EXCERPT_LINE_CHARS else line[: EXCERPT_LINE_CHARS - 1] + "…"
        for line in lines[-EXCERPT_LINES:]
    ]
    if len(lines) > EXCERPT_LINES:
        kept.insert(0, f"… {len(lines) - EXCERPT_LINES} earlier line(s)")
    return kept
