"""Failed pipeline runs: events -> one incident per pipeline run, root cause first; its detector, view and spec.

Pure functions over plain data; the query and its rows are in run_failures_query.py, and `RunFailureDetector`
plugs both into the ingestion-window scan (shared/scans/log_scan.py).

A pipeline step is a child run of the pipeline run (`ParentRunId`/`RootRunId`); nested pipelines add levels.
The root cause is the failed run that has no failed child, failing earliest: a parent fails *because* a child
failed, and downstream steps fail or are cancelled *after* it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from shared.core.azure_ml import Workspace
from shared.detectors.azure_monitor_alert import alert_view
from shared.detectors.base import (
    UPDATE_OF,
    Detected,
    DetectorSpec,
    Findings,
    QueryWindow,
    Shape,
    ViewOptions,
    from_payload,
    to_payload,
)
from shared.detectors.run_failure_view import ADDITION, RECENT_HISTORY, headline, pipeline_view
from shared.detectors.run_failures_query import (
    DEFAULT_FAILURE_STATUSES,
    RunEvent,
    read_events,
    run_failures_query,
)
from shared.rules.parts import is_watched

if TYPE_CHECKING:
    from shared.rules import Rules
    from shared.settings import Settings

KIND = "run-failure"
SCAN = "run-failures"
ERROR_TEXT_LIMIT = 2000  # per step: enough for a stack trace's head, small enough for one email and one table row
STEP_LIMIT = 50  # listed per incident; a 500-step fan-out still renders and still fits a table entity

_DOWNSTREAM_STATUSES = {"failed", "canceled", "cancelrequested", "notstarted", "notresponding"}
_TERMINAL_STATUSES = {"completed", "failed", "canceled"}


@dataclass(frozen=True)
class Step:
    run_id: str
    status: str
    time: datetime
    error: str = ""
    experiment: str = ""
    cluster: str = ""


@dataclass(frozen=True)
class PipelineFailure:
    """One incident: a pipeline run with at least one failed run, root cause first."""

    workspace: Workspace
    pipeline_run_id: str
    pipeline_status: str
    experiment: str
    root_cause: Step
    downstream: tuple[Step, ...]
    other_steps: int = 0  # completed or still running: counted, not listed
    omitted_steps: int = 0  # beyond STEP_LIMIT
    # A hash of every run id seen, so a pending incident is updated when a run appears; a hash, not the list:
    # a pipeline may have thousands of steps, and the stored incident must stay far below 64 KiB.
    runs_seen: str = ""

    @property
    def key(self) -> str:
        return f"{KIND}:{self.workspace.name}:{self.pipeline_run_id}"

    @property
    def labels(self) -> dict[str, str]:
        """What routing and silences match on."""
        return {
            "kind": KIND,
            "workspace": self.workspace.name,
            "experiment": self.experiment,
            "compute": self.root_cause.cluster,
        }

    @property
    def failed_at(self) -> datetime:
        return self.root_cause.time

    @property
    def is_settled(self) -> bool:
        """The pipeline run itself has finished: no more steps will fail, so the incident is complete."""
        return self.pipeline_status.lower() in _TERMINAL_STATUSES


def _error_text(event: RunEvent) -> str:
    parts = [event.job_error, event.error_details, event.message]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    text = "\n".join(seen)
    if len(text) > ERROR_TEXT_LIMIT:
        text = text[: ERROR_TEXT_LIMIT - 1] + "…"
    return text


def _step(event: RunEvent) -> Step:
    return Step(
        run_id=event.run_id,
        status=event.status,
        time=event.time,
        error=_error_text(event),
        experiment=event.experiment,
        cluster=event.cluster,
    )


def _root_cause(failed: list[RunEvent]) -> RunEvent:
    failed_parents = {event.parent_run_id for event in failed}
    leaves = [event for event in failed if event.run_id not in failed_parents] or failed
    return min(leaves, key=lambda event: (event.time, event.is_root, event.run_id))


def pipeline_failure(
    events: list[RunEvent], failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES
) -> PipelineFailure | None:
    """Events of one pipeline run (same root) -> its incident, or None if nothing in it failed."""
    failing = {status.lower() for status in failure_statuses}
    latest: dict[str, RunEvent] = {}
    for event in sorted(events, key=lambda e: e.time):
        latest[event.run_id] = event  # one status per run, the newest
    events = list(latest.values())
    failed = [event for event in events if event.status.lower() in failing]
    if not failed:
        return None
    cause = _root_cause(failed)
    root = next((event for event in events if event.is_root), None)
    steps = [event for event in events if event is not cause and not event.is_root]
    downstream = sorted(
        (e for e in steps if e.status.lower() in _DOWNSTREAM_STATUSES | failing),
        key=lambda e: (e.status.lower() not in failing, e.time, e.run_id),  # failed first, then by time
    )
    listed = downstream[: STEP_LIMIT - 1]
    experiment = next((event.experiment for event in [cause, *events] if event.experiment), "")
    return PipelineFailure(
        workspace=(root or cause).workspace,
        pipeline_run_id=cause.root_run_id,
        pipeline_status=root.status if root else "",
        experiment=experiment,
        root_cause=_step(cause),
        downstream=tuple(_step(event) for event in listed),
        other_steps=len(steps) - len(downstream),
        omitted_steps=len(downstream) - len(listed),
        runs_seen=_runs_digest(event.run_id for event in events),
    )


def _runs_digest(run_ids: Iterable[str]) -> str:
    ids = sorted(run_ids)
    digest = hashlib.sha256("\n".join(ids).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{len(ids)} runs, {digest}"


def group_pipeline_failures(
    events: Iterable[RunEvent], failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES
) -> list[PipelineFailure]:
    """All runs of one pipeline run go into one incident; incidents ordered by when they failed."""
    by_root: dict[tuple[str, str], list[RunEvent]] = defaultdict(list)
    for event in events:
        by_root[(event.workspace.name, event.root_run_id)].append(event)
    incidents = [pipeline_failure(group, failure_statuses) for group in by_root.values()]
    return sorted((i for i in incidents if i is not None), key=lambda i: (i.failed_at, i.key))


def incident_payload(incident: PipelineFailure) -> dict[str, Any]:
    """JSON-ready form stored in the outbox; `incident_from_payload` reads it back."""
    return to_payload(incident)


def incident_from_payload(payload: Mapping[str, Any]) -> PipelineFailure:
    return from_payload(PipelineFailure, payload)


# Only the pipeline run's own failure is in Log Analytics yet: its steps' rows are usually minutes behind (they
# are ingested in other batches), and an email without the failing step is of little use. Wait this long for them.
STEP_DETAIL_WAIT = timedelta(minutes=10)


def due_at(incident: PipelineFailure, group_wait: timedelta) -> datetime:
    """A finished pipeline run whose failing step is known is complete: send at once. A running one may still
    fail more steps: wait a little. Both waits count from the first failure, so late data does not add to them."""
    if incident.root_cause.run_id == incident.pipeline_run_id:
        return incident.failed_at + max(group_wait, STEP_DETAIL_WAIT)
    return incident.failed_at if incident.is_settled else incident.failed_at + group_wait


@dataclass(frozen=True)
class RunFailureDetector:
    """Failed pipeline runs, for the generic Log Analytics scan."""

    group_wait: timedelta
    failure_statuses: tuple[str, ...] = DEFAULT_FAILURE_STATUSES
    workspaces: tuple[str, ...] = ()  # Azure ML workspace name patterns; empty: all
    scan: ClassVar[str] = SCAN

    def query(self, window: QueryWindow) -> str:
        return run_failures_query(window, self.failure_statuses)

    def detect(self, rows: list[dict[str, Any]]) -> Findings:
        events, skipped = read_events(rows)
        return Findings(
            [
                Detected(
                    incident.key, KIND, incident_payload(incident), incident.labels, due_at(incident, self.group_wait)
                )
                for incident in group_pipeline_failures(events, self.failure_statuses)
                if is_watched(incident.workspace.name, self.workspaces)
            ],
            skipped,
        )


def view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    """The incident with studio links; `alert`: the Azure Monitor alert that led to it (the webhook), if any;
    `run_history`: what the delivery read from Azure ML run history; `update_of`: this is the one follow-up."""
    fields = dict(payload)
    alert = fields.pop("alert", None)
    addition, update_of = fields.pop(ADDITION, None), fields.pop(UPDATE_OF, None)
    recent_history = str(fields.pop(RECENT_HISTORY, "") or "")
    return pipeline_view(
        incident_from_payload(fields),
        options,
        alert=alert_view(alert) if alert else None,
        addition=addition,
        update_of=update_of,
        recent_history=recent_history,
    )


def build(rules: Rules, settings: Settings) -> RunFailureDetector:
    watch = rules.run_failures
    return RunFailureDetector(settings.group_wait, tuple(watch.statuses), tuple(watch.workspaces))


SPEC = DetectorSpec(
    kind=KIND,
    title="pipeline failures",
    shape=Shape.WINDOW,
    view=view,
    templates="run_failure",
    scan=SCAN,
    function="scan_run_failures",
    schedule_setting="RUN_FAILURES_SCHEDULE",
    rules_section="run_failures",
    build=build,
    headline=headline,
)
