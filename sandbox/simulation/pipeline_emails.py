"""Matching the app's pipeline-failure emails back to the day's incidents, and what they named as root cause.

A subject names the pipeline and the root-cause step by display name ("[AML] Pipeline failed: <pipeline> in <ws>
(root cause <step>)"), or by run id when run history was not read. Display names repeat from run to run, so:

* an email is matched by its body: its "Pipeline run:" line (the pipeline run id) and the first studio link
  after "ROOT CAUSE:" (the root-cause run id);
* a digest entry (subject and "first seen" only) by run id when its subject has one, else by (pipeline, workspace,
  step) display names, choosing among the day's incidents with those names the latest that became knowable
  before the entry was first seen;
* a follow-up ("Update: root cause is now ...") is a second, different notice of its incident.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .world import Day

SUBJECT = re.compile(r"Pipeline failed: (?P<pipeline>.*) in (?P<ws>\S+) \(root cause (?P<step>[^)\s]+)\)$")
_PIPELINE_RUN = re.compile(r"^Pipeline run:\s+(\S+)", re.MULTILINE)
_CAUSE_LINK = re.compile(r"ROOT CAUSE:.*?/runs/([^?\s]+)\?", re.DOTALL)
UPDATE = "Update: root cause is now"


@dataclass(frozen=True)
class PipelineEntry:
    key: str
    notice: str  # "alert", or "update" for the one follow-up
    named: str  # the run it names as root cause


def from_email(subject: str, text: str, day: Day) -> PipelineEntry | None:
    pipeline, cause = _PIPELINE_RUN.search(text), _CAUSE_LINK.search(text)
    if not SUBJECT.search(subject) or not pipeline or not cause:
        return None
    key = day.run_to_incident.get(pipeline.group(1))
    return PipelineEntry(key, "update" if text.startswith(UPDATE) else "alert", cause.group(1)) if key else None


def from_digest_entry(subject: str, first_seen: str, day: Day) -> PipelineEntry | None:
    match = SUBJECT.search(subject)
    if not match:
        return None
    if key := day.run_to_incident.get(match["step"]):
        return PipelineEntry(key, "alert", match["step"])
    seen = datetime.strptime(first_seen.strip(), "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    candidates = [
        c for c in _by_names(id(day), day).get((match["pipeline"], match["ws"], match["step"]), []) if c[0] <= seen
    ]
    if not candidates:
        return None
    _, key, run = max(candidates)
    return PipelineEntry(key, "alert", run)


_INDEX: dict[int, dict[tuple[str, str, str], list[tuple[datetime, str, str]]]] = {}


def _by_names(day_id: int, day: Day) -> dict[tuple[str, str, str], list[tuple[datetime, str, str]]]:
    """(pipeline display name, workspace, step display name) -> (when it became knowable, incident, step run)."""
    if day_id in _INDEX:
        return _INDEX[day_id]
    at = {incident.key: incident.at for incident in day.incidents}
    found: dict[tuple[str, str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
    for run in day.pipeline_runs:
        key = day.run_to_incident.get(run.run_id)
        if key in at:
            for step in run.steps:
                found[(run.display_name, run.workspace, step.name)].append((at[key], key, step.run_id))
    _INDEX[day_id] = found
    return found


@dataclass(frozen=True)
class RootCauses:
    right: int  # first notices naming the step that failed first
    named: int  # first notices of pipeline failures
    wrong: int  # incidents whose first notice named another step
    updated_once: int  # of those, followed by exactly one update naming the right step
    updates: int  # follow-ups in all


def root_causes(entries: list[PipelineEntry], day: Day) -> RootCauses:
    firsts = [entry for entry in entries if entry.notice == "alert"]
    updates: dict[str, list[PipelineEntry]] = defaultdict(list)
    for entry in entries:
        if entry.notice == "update":
            updates[entry.key].append(entry)
    wrong = {entry.key for entry in firsts if entry.named != day.root_causes.get(entry.key)}
    updated_once = sum(len(updates[key]) == 1 and updates[key][0].named == day.root_causes.get(key) for key in wrong)
    return RootCauses(
        right=len(firsts) - sum(entry.key in wrong for entry in firsts),
        named=len(firsts),
        wrong=len(wrong),
        updated_once=updated_once,
        updates=sum(len(found) for found in updates.values()),
    )


def late_cause_day(day: Day) -> Day:
    """The day reduced to its failed pipelines whose root-cause step's Failed row reaches Log Analytics after
    another Failed row of the same run (the pipeline's own, or a later-failing step's): the emails that, without
    run history, may name another root cause first. The compute deletions stay (their rows are in other tables);
    no drift."""
    ingested: dict[str, dict[str, datetime]] = defaultdict(dict)  # pipeline run -> failed run -> ingested at
    for row in day.rows.get("AmlRunStatusChangedEvent", []):
        if row["Status"] == "Failed":
            ingested[row["RootRunId"]][row["RunId"]] = row["_IngestedAt"]
    kept = set()
    for key, cause in day.root_causes.items():
        runs = ingested.get(key.rsplit(":", 1)[1], {})
        if cause in runs and any(at < runs[cause] for run, at in runs.items() if run != cause):
            kept.add(key)
    run_ids = {run for run, key in day.run_to_incident.items() if key in kept}
    rows = {  # the other tables as they are (a query naming an absent table fails; no table may be empty)
        **day.rows,
        "AmlRunStatusChangedEvent": [
            row for row in day.rows.get("AmlRunStatusChangedEvent", []) if row["RootRunId"] in run_ids
        ],
        "AmlComputeJobEvent": [row for row in day.rows.get("AmlComputeJobEvent", []) if row.get("JobName") in run_ids],
    }
    pipelines = [run for run in day.pipeline_runs if run.run_id in run_ids]
    return replace(
        day,
        rows=rows,
        series=[],
        incidents=[i for i in day.incidents if i.key in kept or i.kind == "compute-change"],
        pipelines=len(pipelines),
        steps=sum(len(run.steps) for run in pipelines),
        run_to_incident={run: key for run, key in day.run_to_incident.items() if key in kept},
        drift_subjects={},
        root_causes={key: cause for key, cause in day.root_causes.items() if key in kept},
        pipeline_runs=pipelines,
    )
