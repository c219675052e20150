"""Azure Monitor alerts (the webhook): the generic `alert` incident and its view.

Not scanned: the webhook (shared/webhook/) records one `alert` incident per delivery, whose payload is the
alert's summary (webhook/summary.py), unless the enrichment turns it into pipeline incidents (`run-failure`, with
the alert shown in an `alert` block: `alert_view`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.core.links import safe_link, unlinked_text
from shared.core.resource_ids import resource_name
from shared.core.text import utc_text
from shared.detectors.base import DetectorSpec, DigestLine, Shape, ViewOptions

KIND = "alert"


def alert_view(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The alert's summary as a message shows it: its time as text, links only to Azure's own hosts."""
    fired = alert.get("fired_at") or ""
    try:
        fired_text = utc_text(datetime.fromisoformat(fired)) if fired else ""
    except ValueError:
        fired_text = str(fired)
    # Links were checked when the alert arrived; checked again because stored data is read back (and older rows
    # stored any https link): only Azure's own hosts are links, any other shows its host as text.
    stored = alert.get("links") or []
    return {
        **alert,
        "fired_text": fired_text,
        "links": [(label, url) for label, url in stored if safe_link(url)],
        "unlinked": [
            *(alert.get("unlinked") or []),
            *((label, unlinked_text(url)) for label, url in stored if not safe_link(url)),
        ],
    }


def view(summary: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    """Any Azure Monitor alert the webhook could not turn into pipeline incidents: its rule, what fired, links."""
    resolved = summary.get("condition") == "Resolved"
    state = "Resolved" if resolved else "Fired"
    severity = f"{summary['severity']} " if summary.get("severity") else ""
    targets = summary.get("targets") or []
    where = " on " + resource_name(targets[0]) if targets else ""
    subject = f"[Azure Monitor] {state}: {severity}{summary.get('rule') or summary.get('service')}{where}"
    alert = alert_view(summary)
    try:
        fired = datetime.fromisoformat(summary["fired_at"]) if summary.get("fired_at") else None
    except ValueError:
        fired = None
    link = alert["links"][0][1] if alert["links"] else None
    where_name = resource_name(targets[0]) if targets else ""
    digest = DigestLine(fired, where_name, link, str(summary.get("rule") or summary.get("service") or ""))
    return {"subject": subject, "alert": alert, "resolved": resolved, "state": state, "digest": digest}


SPEC = DetectorSpec(kind=KIND, title="Azure Monitor alerts", shape=Shape.NONE, view=view, templates="alert")
