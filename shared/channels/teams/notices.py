"""Each incident kind as a card's `Notice` (pure): the facts of the email's first screen, from the kind's view
(the registry's), with the links to Azure ML studio or the portal. A kind without an entry here gets its subject
and nothing else, so a new detector's notices still reach Teams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared import detectors
from shared.channels.teams.card import Notice, Severity
from shared.core.text import one_line, utc_text
from shared.detectors.base import ViewOptions

Facts = list[tuple[str, str]]
Links = list[tuple[str, str]]


def _links(*pairs: tuple[str, Any]) -> Links:
    return [(title, url) for title, url in pairs if url]


def _run_failure(view: Mapping[str, Any]) -> Notice:
    incident, cause = view["incident"], view["cause"]
    facts: Facts = [
        ("Workspace", incident.workspace.name),
        ("Root cause", f"step {cause['run_id']} {cause['status']} at {utc_text(cause['time'])}"),
        ("Compute", cause["cluster"] or "serverless or unknown"),
        ("Downstream", f"{len(view['downstream'])} other step(s) failed, cancelled or never ran"),
    ]
    return Notice(
        view["subject"],
        Severity.ATTENTION,
        [f"Pipeline run {incident.pipeline_run_id} failed"],
        facts,
        cause["error"] or "",
        _links(("Open the pipeline run", view["pipeline_url"]), ("Open the failed step", cause["url"])),
    )


def _compute_change(view: Mapping[str, Any]) -> Notice:
    change = view["change"]
    facts: Facts = [
        ("Who", change.caller or "unknown caller"),
        ("What", change.operation),
        ("Resource", change.resource_id),
        ("Workspace", change.workspace.name),
        ("When", utc_text(change.time)),
        ("Pipelines failed since", str(change.failed_pipelines_after)),
    ]
    return Notice(view["subject"], Severity.WARNING, [], facts)


def _metric(view: Mapping[str, Any]) -> Notice:
    n = view["n"]
    severity = Severity.GOOD if n["notice"] == "resolved" else Severity.ATTENTION
    facts: Facts = [("Rule", n["rule"]), ("Metric", f"{n['metric']} = {n['value']:g}"), ("At", utc_text(view["at"]))]
    return Notice(view["subject"], severity, [], facts)


def _alert(view: Mapping[str, Any]) -> Notice:
    alert = view["alert"]
    facts: Facts = [("Rule", str(alert.get("rule") or "")), ("Fired", alert["fired_text"])]
    severity = Severity.GOOD if view["resolved"] else Severity.ATTENTION
    return Notice(view["subject"], severity, [], facts, links=list(alert["links"]))


def _stuck_run(view: Mapping[str, Any]) -> Notice:
    runs = view["runs"]
    if view["notice"] == "finished":
        payload = view["payload"]
        facts: Facts = [("Ended", f"{payload['ended_status']} at {view['ended_at']}"), ("Ran for", view["ran_text"])]
        return Notice(
            view["subject"], Severity.GOOD, [], facts, links=_links(("Open the pipeline run", view["pipeline_url"]))
        )
    facts = [("Workspace", view["workspace"].name), ("Pipeline run", view["pipeline_run_id"])]
    for run in runs:
        facts.append((run["name"], f"{run['status']} since {run['status_since']}; limit {run['limit']}"))
    severity = Severity.WARNING if view["notice"] == "reminder" else Severity.ATTENTION
    summary = ["No failure event will come for this run: it has not finished, and it is over its time limit."]
    links = _links(("Open the pipeline run", view["pipeline_url"]), *((run["name"], run["url"]) for run in runs))
    return Notice(view["subject"], severity, summary, facts, links=links)


def _missed_schedule(view: Mapping[str, Any]) -> Notice:
    payload, last = view["payload"], view["last_job"]
    facts: Facts = []
    if view["expected_local"]:
        facts += [("Expected", view["expected_local"]), ("Expected (UTC)", view["expected_utc"])]
    facts += [
        ("Schedule", f"{payload['schedule']}: {payload['trigger']}"),
        ("State", payload["state"] + (f", ends {payload['end_time']}" if payload.get("end_time") else "")),
        ("Last run", f"{last.get('display_name') or last['name']} ({last.get('status')})" if last else "none seen"),
    ]
    severity = Severity.ATTENTION if view["notice"] in ("missed", "overdue") else Severity.WARNING
    return Notice(view["subject"], severity, [], facts, links=_links(("Open the last run", view["last_job_url"])))


NOTICES: dict[str, Callable[[Mapping[str, Any]], Notice]] = {
    "run-failure": _run_failure,
    "compute-change": _compute_change,
    "metric": _metric,
    "alert": _alert,
    "stuck-run": _stuck_run,
    "missed-schedule": _missed_schedule,
}


def notice_for(kind: str, payload: Mapping[str, Any], options: ViewOptions) -> Notice:
    view = detectors.by_kind(kind).view(payload, options)
    make = NOTICES.get(kind)
    if make is None:
        return Notice(one_line(view["subject"]), Severity.WARNING)
    notice = make(view)
    return Notice(one_line(notice.title), notice.severity, notice.summary, notice.facts, notice.excerpt, notice.links)
