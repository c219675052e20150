"""Failed pipeline runs: the query, rows -> run events, and events -> one incident per pipeline run.

Pure functions over plain data; `RunFailureDetector` plugs them into the generic scan (log_scan.py).

A pipeline step is a child run of the pipeline run (`ParentRunId`/`RootRunId`); nested pipelines add levels.
The root cause is the failed run that has no failed child, failing earliest: a parent fails *because* a child
failed, and downstream steps fail or are cancelled *after* it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from shared.aml import Workspace
from shared.kql import kql_datetime, kql_string_list, optional_table
from shared.log_rows import moment, text
from shared.log_scan import Detected, Findings, QueryWindow
from shared.routing import is_watched

ERROR_TEXT_LIMIT = 2000  # per step: enough for a stack trace's head, small enough for one email and one table row
STEP_LIMIT = 50  # listed per incident; a 500-step fan-out still renders and still fits a table entity

DEFAULT_FAILURE_STATUSES = ("Failed",)
_DOWNSTREAM_STATUSES = {"failed", "canceled", "cancelrequested", "notstarted", "notresponding"}
_TERMINAL_STATUSES = {"completed", "failed", "canceled"}


def run_failures_query(window: QueryWindow, failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES) -> str:
    """One query per workspace and scan: every pipeline that had a run fail, ingested in the window."""
    return failed_pipelines_query(
        window.start, window.end, clock="ingestion_time()",
        selection=[f"| where Status in~ {kql_string_list(failure_statuses)}"],
    )


_RUN_STATUS_COLUMNS = (
    ("Clock", "datetime"), ("TimeGenerated", "datetime"), ("RunId", "string"), ("ParentRunId", "string"),
    ("RootRunId", "string"), ("Status", "string"), ("Message", "string"), ("WorkspaceName", "string"),
    ("_ResourceId", "string"),
)
_JOB_FAILURE_COLUMNS = (
    ("RunKey", "string"), ("TimeGenerated", "datetime"), ("JobErrorMessage", "string"), ("ErrorDetails", "string"),
    ("ExperimentName", "string"), ("ClusterName", "string"),
)


def failed_pipelines_query(start: datetime, end: datetime, *, clock: str, selection: Sequence[str]) -> str:
    """The latest status of every run of each pipeline that had a run selected by `selection` in (start, end],
    with the compute job's error text and experiment. `clock` windows the rows: `ingestion_time()` for the
    scans (late data), `TimeGenerated` for an alert's window. `selection` lines hold only quoted literals.

    Both tables are optional (`optional_table`): a workspace without `AmlComputeJobEvent` (serverless compute)
    still gets its failed pipelines, without compute error text; one without either table gets no rows.

    A step's compute job is joined on its run id without regard to case: `AmlComputeJobEvent.JobName` is the
    run id, but AutoML and some SDK versions write it in another case than `AmlRunStatusChangedEvent.RunId`.
    Assumed: Azure ML run ids are unique regardless of case (they are generated names and GUIDs), so lower-casing
    both sides never joins two different runs."""
    where = "\n    ".join(selection)
    run_status = optional_table("AmlRunStatusChangedEvent", _RUN_STATUS_COLUMNS, f"""| where {clock} <= window_end
    | project Clock = {clock}, TimeGenerated, RunId, ParentRunId, RootRunId, Status, Message, WorkspaceName,
        _ResourceId""")
    job_failures = optional_table("AmlComputeJobEvent", _JOB_FAILURE_COLUMNS, f"""| where {clock} <= window_end
    | where EventType =~ "JobFailed"
    | project RunKey = tolower(JobName), TimeGenerated, JobErrorMessage, ErrorDetails, ExperimentName,
        ClusterName""")
    return f"""let window_start = {kql_datetime(start)};
let window_end = {kql_datetime(end)};
let run_status = {run_status};
let job_failures = {job_failures};
let failed_roots = run_status
    | where Clock > window_start
    {where}
    | extend Root = iff(isempty(RootRunId), RunId, RootRunId)
    | distinct Root;
run_status
| extend Root = iff(isempty(RootRunId), RunId, RootRunId)
| where Root in (failed_roots)
| summarize arg_max(TimeGenerated, Status, Message, ParentRunId, WorkspaceName, _ResourceId) by RunId, Root
| extend RunKey = tolower(RunId)
| join kind=leftouter (
    job_failures
    | summarize arg_max(TimeGenerated, JobErrorMessage, ErrorDetails, ExperimentName, ClusterName) by RunKey
    | project RunKey, JobErrorMessage, ErrorDetails, ExperimentName, ClusterName
  ) on RunKey
| project RunId, ParentRunId, RootRunId = Root, Status, Message, WorkspaceName, ResourceId = _ResourceId,
    TimeGenerated, JobErrorMessage, ErrorDetails, ExperimentName, ClusterName
"""


@dataclass(frozen=True)
class RunEvent:
    """The latest known status of one run (a pipeline run or one of its steps)."""

    run_id: str
    parent_run_id: str
    root_run_id: str
    status: str
    time: datetime
    workspace: Workspace
    message: str = ""
    job_error: str = ""
    error_details: str = ""
    experiment: str = ""
    cluster: str = ""

    @property
    def is_root(self) -> bool:
        return self.run_id == self.root_run_id


def read_events(rows: Iterable[Mapping[str, Any]]) -> tuple[list[RunEvent], Counter[str]]:
    """Run events, and the rows that could not be used, counted by why (a null RunId or TimeGenerated)."""
    events: list[RunEvent] = []
    skipped: Counter[str] = Counter()
    for row in rows:
        run_id = text(row, "RunId")
        time = moment(row.get("TimeGenerated"))
        if not run_id or time is None:
            skipped["no RunId" if not run_id else "no TimeGenerated"] += 1
            continue
        events.append(
            RunEvent(
                run_id=run_id,
                parent_run_id=text(row, "ParentRunId"),
                root_run_id=text(row, "RootRunId") or run_id,
                status=text(row, "Status"),
                time=time,
                workspace=Workspace.from_resource_id(text(row, "ResourceId"), text(row, "WorkspaceName")),
                message=text(row, "Message"),
                job_error=text(row, "JobErrorMessage"),
                error_details=text(row, "ErrorDetails"),
                experiment=text(row, "ExperimentName"),
                cluster=text(row, "ClusterName"),
            )
        )
    return events, skipped


def events_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[RunEvent]:
    return read_events(rows)[0]


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
        return f"run-failure:{self.workspace.name}:{self.pipeline_run_id}"

    @property
    def labels(self) -> dict[str, str]:
        """What routing and silences match on."""
        return {
            "kind": "run-failure",
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


@cache
def _adapter():
    # Built once: building a TypeAdapter costs milliseconds (schema generation), using one microseconds.
    from pydantic import TypeAdapter

    return TypeAdapter(PipelineFailure)


def incident_payload(incident: PipelineFailure) -> dict[str, Any]:
    """JSON-ready form stored in the outbox; `incident_from_payload` reads it back."""
    return _adapter().dump_python(incident, mode="json")


def incident_from_payload(payload: Mapping[str, Any]) -> PipelineFailure:
    return _adapter().validate_python(dict(payload))


KIND = "run-failure"


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
    scan: str = "run-failures"

    def query(self, window: QueryWindow) -> str:
        return run_failures_query(window, self.failure_statuses)

    def detect(self, rows: list[dict[str, Any]]) -> Findings:
        events, skipped = read_events(rows)
        return Findings([
            Detected(incident.key, KIND, incident_payload(incident), incident.labels,
                     due_at(incident, self.group_wait))
            for incident in group_pipeline_failures(events, self.failure_statuses)
            if is_watched(incident.workspace.name, self.workspaces)
        ], skipped)
