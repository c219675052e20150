"""Emails from incidents: Jinja2 templates, HTML (autoescaped: error text is untrusted) and plain text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.acs_email import Email
from shared.aml import studio_run_url
from shared.entity_bounds import MINIMAL, REDUCED
from shared.outbox import OutboxRecord
from shared.run_failures import PipelineFailure, Step

if TYPE_CHECKING:
    from shared.compute_changes import ComputeChange


@cache
def _environment(autoescape: bool):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shared", "templates"),
        autoescape=autoescape,  # noqa: S701 - off only for the text/plain part, which no browser renders
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    return env


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    html = _environment(True).get_template(f"{name}.html.j2").render(context)
    text = _environment(False).get_template(f"{name}.txt.j2").render(context)
    return html, text


def _step_view(incident: PipelineFailure, step: Step, tenant_id: str | None) -> dict[str, Any]:
    return {
        "run_id": step.run_id,
        "status": step.status,
        "time": step.time,
        "error": step.error,
        "cluster": step.cluster,
        "url": studio_run_url(incident.workspace, step.run_id, tenant_id),
    }


def render_run_failure(incident: PipelineFailure, tenant_id: str | None = None,
                       alert: dict[str, Any] | None = None) -> Email:
    """`alert`: the Azure Monitor alert that led to this incident (webhook), shown with its rule and links."""
    cause = incident.root_cause
    subject_what = incident.experiment or incident.pipeline_run_id
    subject = f"[AML] Pipeline failed: {subject_what} in {incident.workspace.name} (root cause {cause.run_id})"
    context = {
        "incident": incident,
        "workspace": incident.workspace,
        "pipeline_url": studio_run_url(incident.workspace, incident.pipeline_run_id, tenant_id),
        "cause": _step_view(incident, cause, tenant_id),
        "downstream": [_step_view(incident, step, tenant_id) for step in incident.downstream],
        "alert": _alert_view(alert) if alert else None,
    }
    html, text = _render("run_failure", context)
    return Email(subject=_one_line(subject), text=text, html=html)


def render_digest(rendered: list[tuple[OutboxRecord, Email]]) -> Email:
    """Storm guard: one email that lists many incidents, each by its own subject, oldest first."""
    entries = sorted(rendered, key=lambda pair: pair[0].created_at)
    kinds = Counter(record.kind for record, _ in entries)
    summary = ", ".join(f"{count} {_KIND_NAMES.get(kind, kind)}" for kind, count in kinds.most_common())
    context = {"entries": [{"record": record, "email": email} for record, email in entries], "summary": summary}
    html, text = _render("digest", context)
    return Email(subject=_one_line(f"[AML] {len(entries)} alerts at once: {summary}"), text=text, html=html)


_KIND_NAMES = {"run-failure": "pipeline failures", "compute-change": "compute changes", "metric": "metric notices",
               "alert": "Azure Monitor alerts"}


def _run_failure_email(payload: dict[str, Any], tenant_id: str | None) -> Email:
    from shared.run_failures import incident_from_payload

    payload = dict(payload)
    alert = payload.pop("alert", None)
    return render_run_failure(incident_from_payload(payload), tenant_id, alert)


def _alert_view(alert: dict[str, Any]) -> dict[str, Any]:
    from shared.alert_payload import safe_link, unlinked_text

    fired = alert.get("fired_at") or ""
    try:
        fired_text = _when(datetime.fromisoformat(fired)) if fired else ""
    except ValueError:
        fired_text = str(fired)
    # Links were checked when the alert arrived; checked again because stored data is read back (and older rows
    # stored any https link): only Azure's own hosts are links, any other shows its host as text.
    stored = alert.get("links") or []
    return {
        **alert,
        "fired_text": fired_text,
        "links": [(label, url) for label, url in stored if safe_link(url)],
        "unlinked": [*(alert.get("unlinked") or []),
                     *((label, unlinked_text(url)) for label, url in stored if not safe_link(url))],
    }


def render_alert(summary: dict[str, Any]) -> Email:
    """Any Azure Monitor alert the webhook could not turn into pipeline incidents: its rule, what fired, links."""
    view = _alert_view(summary)
    resolved = summary.get("condition") == "Resolved"
    state = "Resolved" if resolved else "Fired"
    severity = f"{summary['severity']} " if summary.get("severity") else ""
    where = ""
    targets = summary.get("targets") or []
    if targets:
        where = " on " + targets[0].rstrip("/").rsplit("/", 1)[-1]
    subject = f"[Azure Monitor] {state}: {severity}{summary.get('rule') or summary.get('service')}{where}"
    html, text = _render("alert", {"alert": view, "resolved": resolved, "state": state})
    return Email(subject=_one_line(subject), text=text, html=html)


def _alert_email(payload: dict[str, Any], tenant_id: str | None) -> Email:
    return render_alert(payload)


def render_compute_change(change: ComputeChange) -> Email:
    html, text = _render("compute_change", {"change": change})
    subject = (f"[AML] {change.verb} {change.status.lower()}: {change.target} in {change.workspace.name} "
               f"by {change.caller}")
    return Email(subject=_one_line(subject), text=text, html=html)


def _compute_change_email(payload: dict[str, Any], tenant_id: str | None) -> Email:
    from shared.compute_changes import change_from_payload

    return render_compute_change(change_from_payload(payload))


def render_metric_notice(payload: dict[str, Any], tenant_id: str | None = None) -> Email:
    recent = [{"at": _parse(at), "value": value, "breaching": breaching} for at, value, breaching in payload["recent"]]
    context = {"n": payload, "episode_start": _parse(payload["episode_start"]), "at": _parse(payload["at"]),
               "recent": recent}
    html, text = _render("metric_notice", context)
    state = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}[payload["notice"]]
    resource = payload["resource_id"].rstrip("/").rsplit("/", 1)[-1]
    subject = f"[AML] {state}: {payload['rule']} on {resource} ({payload['metric']} = {payload['value']:g})"
    return Email(subject=_one_line(subject), text=text, html=html)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


# One renderer per incident kind (`OutboxRecord.kind`): the outbox stores data, and renders it when it sends.
_RENDERERS: dict[str, Callable[[dict[str, Any], str | None], Email]] = {
    "run-failure": _run_failure_email,
    "compute-change": _compute_change_email,
    "metric": render_metric_notice,
    "alert": _alert_email,
}


def render_incident(kind: str, payload: dict[str, Any], tenant_id: str | None = None) -> Email:
    if MINIMAL in payload:  # the details could not be stored: an email that names the incident and says so
        return render_not_stored(payload[MINIMAL])
    try:
        renderer = _RENDERERS[kind]
    except KeyError:
        raise ValueError(f"no email template for incidents of kind {kind!r}") from None
    email = renderer({k: v for k, v in payload.items() if k != REDUCED}, tenant_id)
    return _with_note(email, payload[REDUCED]) if REDUCED in payload else email


def render_not_stored(minimal: dict[str, Any]) -> Email:
    html, text = _render("not_stored", minimal)
    return Email(subject=_one_line(f"[AML] {minimal['key']} (details could not be stored)"), text=text, html=html)


def _with_note(email: Email, note: str) -> Email:
    """The email with a note saying its details were shortened to fit the store."""
    from markupsafe import escape

    block = f'<p style="font-size:12px;color:#59636e;margin:12px;">Note: {escape(note)}</p>'
    return Email(email.subject, f"{email.text}\nNote: {note}\n", email.html.replace("</body>", block + "</body>", 1))


def _one_line(subject: str, limit: int = 200) -> str:
    # Untrusted run ids and names end up here: no header folding tricks, bounded length.
    flat = " ".join(subject.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
