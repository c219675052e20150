"""Emails from incident records: a kind's view (its detector's, from the registry) through its Jinja2 templates,
HTML (autoescaped: error text is untrusted) and plain text; the storm guard's digest; the minimal form."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shared import detectors
from shared.azure.entity_bounds import MINIMAL, REDUCED
from shared.channels.email.acs import Email
from shared.channels.email.digest import DigestEntry, group_by_error
from shared.core.links import safe_link
from shared.core.text import one_line, utc_text
from shared.detectors.base import DigestLine, ViewOptions
from shared.outbox.delivery import NOTES
from shared.outbox.records import OutboxRecord

if TYPE_CHECKING:
    import jinja2


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shared.channels.email", "templates"),
        autoescape=autoescape,  # noqa: S701 - off only for the text/plain part, which no browser renders
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = utc_text
    return env


def _render(name: str, context: Mapping[str, Any]) -> tuple[str, str]:
    html = _environment(True).get_template(f"{name}.html.j2").render(context)
    text = _environment(False).get_template(f"{name}.txt.j2").render(context)
    return html, text


def render_incident(kind: str, payload: Mapping[str, Any], options: ViewOptions | None = None) -> Email:
    """One incident's email: its detector's view through its templates, with a note when the details were
    shortened to fit the store or an enricher had something to say."""
    if MINIMAL in payload:  # the details could not be stored: an email that names the incident and says so
        return render_not_stored(payload[MINIMAL])
    try:
        spec = detectors.by_kind(kind)
    except KeyError:
        raise ValueError(f"no email template for incidents of kind {kind!r}") from None
    context = spec.view({k: v for k, v in payload.items() if k not in (REDUCED, NOTES)}, options or ViewOptions())
    html, text = _render(spec.templates, context)
    email = Email(subject=one_line(context["subject"]), text=text, html=html)
    for note in (payload.get(REDUCED), payload.get(NOTES)):
        email = _with_note(email, note) if note else email
    return email


def digest_entry(record: OutboxRecord, options: ViewOptions | None = None) -> DigestEntry:
    """How one incident reads in a digest: its subject and its view's digest line (when it began, where, a link,
    its first error line); an incident stored in its minimal form has its key only."""
    if MINIMAL in record.payload:
        return DigestEntry(record, f"{record.key} (details could not be stored)", DigestLine())
    context = detectors.by_kind(record.kind).view(record.payload, options or ViewOptions())
    line = context.get("digest") or DigestLine()
    return DigestEntry(record, one_line(context["subject"]), replace(line, link=safe_link(line.link)))


def render_digest(entries: Sequence[DigestEntry]) -> Email:
    """Storm guard: one email for a group of recipients that lists its incidents, grouped by their first error
    line, oldest first (by when each really began), each with its workspace, link and key."""
    kinds = Counter(entry.record.kind for entry in entries)
    summary = ", ".join(f"{count} {_title(kind)}" for kind, count in kinds.most_common())
    context = {"groups": group_by_error(entries), "count": len(entries), "summary": summary}
    html, text = _render("digest", context)
    return Email(subject=one_line(f"[AML] {len(entries)} alerts at once: {summary}"), text=text, html=html)


def render_test_email(sender: str, now: datetime) -> Email:
    """`test-email`: says where it came from and that nothing is wrong."""
    html, text = _render("test_email", {"sender": sender, "now": now})
    return Email(subject=f"[AML] Test email from the AML pipeline alerting app ({utc_text(now)})", text=text, html=html)


def _title(kind: str) -> str:
    try:
        return detectors.by_kind(kind).title
    except KeyError:
        return kind


def render_not_stored(minimal: Mapping[str, Any]) -> Email:
    html, text = _render("not_stored", minimal)
    return Email(subject=one_line(f"[AML] {minimal['key']} (details could not be stored)"), text=text, html=html)


def _with_note(email: Email, note: str) -> Email:
    """The email with a note at its end (details shortened to fit the store, an enricher's remark)."""
    from markupsafe import escape

    block = f'<p style="font-size:12px;color:#59636e;margin:12px;">Note: {escape(note)}</p>'
    return Email(email.subject, f"{email.text}\nNote: {note}\n", email.html.replace("</body>", block + "</body>", 1))
