"""The run-history part of a failed pipeline's message (pure): what the delivery's run-history enricher added
(`run_history` in the payload, JSON-ready: shared/enrich/run_history.py) as render context, the step timeline
with one colour per outcome, the subject by display names, and the follow-up's "Update: root cause is now".

Without run history (switched off, refused, unreachable) every field falls back to what Log Analytics has, so
the message is the one sent before run history existed, plus a line saying what could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.core.azure_ml import Workspace, studio_run_url
from shared.core.text import first_line, utc_text
from shared.detectors.base import DigestLine

ADDITION = "run_history"  # the payload key the enricher writes (shared/enrich/run_history.py)
RECENT_HISTORY = "recent_history"  # one line about the experiment's earlier runs (shared/enrich/recent_history.py)
# Outcome -> (cell background, text colour): Outlook and Gmail render bgcolor on table cells, not CSS classes.
_COLOURS = {
    "failed": ("#fdecea", "#b42318"),
    "canceled": ("#fff4e5", "#8a4b00"),
    "cancelrequested": ("#fff4e5", "#8a4b00"),
    "completed": ("#e9f7ef", "#1a7f37"),
    "running": ("#e8f0fe", "#0b57d0"),
}
_OTHER = ("#f6f8fa", "#59636e")


def duration_text(seconds: float | None) -> str:
    """`1h 02m`, `7m 05s`, `26s`; "" when unknown."""
    if seconds is None or seconds < 0:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _time(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return utc_text(datetime.fromisoformat(value))
    except ValueError:
        return ""


def _step(row: Mapping[str, Any], workspace: Workspace, tenant_id: str | None, cause: str) -> dict[str, Any]:
    background, colour = _COLOURS.get(str(row.get("status", "")).lower(), _OTHER)
    return {
        **row,
        "start_text": _time(row.get("start")),
        "end_text": _time(row.get("end")),
        "duration_text": duration_text(row.get("duration_s")),
        "background": background,
        "colour": colour,
        "is_cause": row.get("run_id") == cause,
        "url": studio_run_url(workspace, str(row.get("run_id", "")), tenant_id),
    }


def run_history_view(
    addition: Mapping[str, Any] | None, workspace: Workspace, tenant_id: str | None
) -> dict[str, Any] | None:
    """The enricher's addition as render context; None without one."""
    if not addition:
        return None
    cause = str(addition.get("root_cause") or "")
    steps = [_step(row, workspace, tenant_id, cause) for row in addition.get("steps", [])]
    reports = [_step(row, workspace, tenant_id, cause) for row in addition.get("reports", [])]
    return {
        "pipeline_name": addition.get("pipeline_name") or "",
        "root_cause": cause,
        "cause": next((report for report in reports if report["is_cause"]), None),
        "steps": steps,
        "steps_omitted": addition.get("steps_omitted", 0),
        "reports": reports,
        "reports_omitted": addition.get("reports_omitted", 0),
    }


def pipeline_view(
    incident: Any,  # run_failures.PipelineFailure (not imported: run_failures imports this module)
    options: Any,  # ViewOptions
    *,
    alert: dict[str, Any] | None = None,
    addition: Mapping[str, Any] | None = None,
    update_of: Mapping[str, Any] | None = None,
    recent_history: str = "",
) -> dict[str, Any]:
    """The render context of a failed pipeline: Log Analytics' facts, with run history's where it answered."""
    workspace, tenant_id = incident.workspace, options.studio_tenant_id
    cause = incident.root_cause
    history = run_history_view(addition, workspace, tenant_id)
    history_cause = history["cause"] if history else None
    cause_name = history_cause["name"] if history_cause else _name_of(history, cause.run_id)
    pipeline_name = (history or {}).get("pipeline_name") or incident.experiment or incident.pipeline_run_id
    pipeline_end = _parsed((addition or {}).get("pipeline_end"))
    if pipeline_end is not None and str((addition or {}).get("pipeline_status", "")).lower() == "failed":
        failed_at, failed_at_is = pipeline_end, "the pipeline run"
    else:
        failed_at, failed_at_is = cause.time, "its first failed step"
    named = history_cause["run_id"] if history_cause else cause.run_id
    return {
        # A follow-up keeps its first message's subject (recorded when it was sent), so mail clients thread them.
        "subject": str((update_of or {}).get("subject") or "")
        or subject(
            pipeline_name, _name_of(history, str(update_of["named"])) if update_of else cause_name, workspace.name
        ),
        "incident": incident,
        "workspace": workspace,
        "pipeline_name": pipeline_name,
        "pipeline_url": studio_run_url(workspace, incident.pipeline_run_id, tenant_id),
        "pipeline_start_text": _time((addition or {}).get("pipeline_start")),
        "triggered_by": str((addition or {}).get("triggered_by") or ""),
        "pipeline_duration_text": duration_text((addition or {}).get("pipeline_duration_s")),
        "failed_at": failed_at,
        "failed_at_is": failed_at_is,
        "cause_name": cause_name,
        "named": named,
        "cause": _la_step(incident, cause, tenant_id),
        "downstream": [_la_step(incident, step, tenant_id) for step in incident.downstream],
        "history": history,
        "recent_history": recent_history,
        "update": {"before": _name_of(history, str(update_of.get("named", "")))} if update_of else None,
        "alert": alert,
        "digest": DigestLine(
            cause.time,
            workspace.name,
            studio_run_url(workspace, incident.pipeline_run_id, tenant_id),
            first_line(cause.error)
            or (first_line(history_cause["error_message"]) if history_cause else "")
            or cause.status,
        ),
    }


def headline(payload: Mapping[str, Any]) -> str:
    """The root-cause run a message about this payload names: run history's pick when it made one, else Log
    Analytics' (the detector's; the pipeline run itself while none of its steps' rows has arrived)."""
    addition = payload.get(ADDITION) or {}
    if addition.get("root_cause"):
        return str(addition["root_cause"])
    return str((payload.get("root_cause") or {}).get("run_id") or "")


def _name_of(history: Mapping[str, Any] | None, run_id: str) -> str:
    for row in (history or {}).get("steps", []):
        if row.get("run_id") == run_id:
            return str(row.get("name") or run_id)
    return run_id


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _la_step(incident: Any, step: Any, tenant_id: str | None) -> dict[str, Any]:
    return {
        "run_id": step.run_id,
        "status": step.status,
        "time": step.time,
        "error": step.error,
        "cluster": step.cluster,
        "url": studio_run_url(incident.workspace, step.run_id, tenant_id),
    }


def subject(pipeline: str, step: str, workspace: str) -> str:
    """By display names (the run ids stay in the body and its links). A follow-up names the step its first
    message named, so the two have the same subject and mail clients thread them."""
    return f"[AML] Pipeline failed: {pipeline} in {workspace} (root cause {step})"
