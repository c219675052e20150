"""Failed pipeline runs in Log Analytics: the one query per workspace and scan, and its rows as run events.

The query returns the latest status of every run of each pipeline that had a run fail, with its compute job's error
text; `read_events` turns its rows into `RunEvent`s (run_failures.py groups them into incidents). The webhook's
enrichment (shared/enrich/log_analytics.py) uses the same query over an alert's window, so both make the same
incidents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.azure_ml import Workspace
from shared.core.kql import kql_datetime, kql_string_list, optional_table
from shared.core.log_rows import moment, text
from shared.detectors.base import QueryWindow

DEFAULT_FAILURE_STATUSES = ("Failed",)


def run_failures_query(window: QueryWindow, failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES) -> str:
    """One query per workspace and scan: every pipeline that had a run fail, ingested in the window."""
    return failed_pipelines_query(
        window.start,
        window.end,
        clock="ingestion_time()",
        selection=[f"| where Status in~ {kql_string_list(failure_statuses)}"],
    )


_RUN_STATUS_COLUMNS = (
    ("Clock", "datetime"),
    ("TimeGenerated", "datetime"),
    ("RunId", "string"),
    ("ParentRunId", "string"),
    ("RootRunId", "string"),
    ("Status", "string"),
    ("Message", "string"),
    ("WorkspaceName", "string"),
    ("_ResourceId", "string"),
)
_JOB_FAILURE_COLUMNS = (
    ("RunKey", "string"),
    ("TimeGenerated", "datetime"),
    ("JobErrorMessage", "string"),
    ("ErrorDetails", "string"),
    ("ExperimentName", "string"),
    ("ClusterName", "string"),
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
    run_status = optional_table(
        "AmlRunStatusChangedEvent",
        _RUN_STATUS_COLUMNS,
        f"""| where {clock} <= window_end
    | project Clock = {clock}, TimeGenerated, RunId, ParentRunId, RootRunId, Status, Message, WorkspaceName,
        _ResourceId""",
    )
    job_failures = optional_table(
        "AmlComputeJobEvent",
        _JOB_FAILURE_COLUMNS,
        f"""| where {clock} <= window_end
    | where EventType =~ "JobFailed"
    | project RunKey = tolower(JobName), TimeGenerated, JobErrorMessage, ErrorDetails, ExperimentName,
        ClusterName""",
    )
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
