"""Stuck runs, the Log Analytics half: the query, and its rows as `RunState`s.

One query per workspace and tick reads `AmlRunStatusChangedEvent` over the lookback and answers, per run, its
latest status, since when, and what the adaptive limit needs. Nothing in that table names a pipeline or a step,
so a *pipeline* is identified for the statistics by (workspace, experiment name), the experiment coming from
`AmlComputeJobEvent.ExperimentName` of any of the run's steps (joined on the run id, case-insensitively). A step
has no identity that survives from one run to the next in Log Analytics (no step name, and the order in which a
pipeline creates its children is not stable), so steps get no statistics here: they are judged by the fixed
limits, and step names come from run history when the wiring has them (`step_names`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.azure_ml import Workspace
from shared.core.kql import kql_datetime, kql_string_list, optional_table
from shared.core.log_rows import moment, text

# Run states (azure-facts.md): these eight mean "not finished yet"; NotResponding is a verdict of its own.
QUEUED_STATUSES = ("NotStarted", "Queued", "Preparing", "Provisioning", "Starting")
RUNNING_STATUSES = ("Running", "Finalizing", "CancelRequested")
TERMINAL_STATUSES = ("Completed", "Failed", "Canceled")

_RUN_STATUS_COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("RunId", "string"),
    ("ParentRunId", "string"),
    ("RootRunId", "string"),
    ("Status", "string"),
    ("WorkspaceName", "string"),
    ("_ResourceId", "string"),
)
_EXPERIMENT_COLUMNS = (("RunKey", "string"), ("ExperimentName", "string"))


def stuck_runs_query(start: datetime, end: datetime, follow_run_ids: Sequence[str] = ()) -> str:
    """Runs whose status rows fall in (start, end] (the lookback) and whose latest status is not final, in a
    pipeline that is not final either; plus the latest status of `follow_run_ids` (pipeline runs already
    reported stuck), final or not, so their end is seen. Each row carries the run's first row (`FirstSeen`),
    its first running-family row (`RunningSince`), its pipeline's experiment and the count and p95 duration
    (first row to `Completed`) of that experiment's pipeline runs that completed in the lookback.

    A step whose pipeline run has finished is left out: the steps that never start in a failed pipeline keep
    `NotStarted` as their last row for ever, and they are not stuck. Both tables are optional."""
    run_status = optional_table(
        "AmlRunStatusChangedEvent",
        _RUN_STATUS_COLUMNS,
        """| where TimeGenerated > window_start
    | where TimeGenerated <= window_end
    | project TimeGenerated, RunId, ParentRunId, RootRunId, Status, WorkspaceName, _ResourceId""",
    )
    experiments = optional_table(
        "AmlComputeJobEvent",
        _EXPERIMENT_COLUMNS,
        """| where TimeGenerated > window_start
    | where TimeGenerated <= window_end
    | where isnotempty(ExperimentName)
    | project RunKey = tolower(JobName), ExperimentName""",
    )
    return f"""let window_start = {kql_datetime(start)};
let window_end = {kql_datetime(end)};
let run_status = {run_status};
let experiments = {experiments};
let runs = run_status
    | extend Root = iff(isempty(RootRunId), RunId, RootRunId)
    | summarize FirstSeen = min(TimeGenerated),
        RunningSince = min(iff(Status in~ {kql_string_list(RUNNING_STATUSES)}, TimeGenerated, datetime(null))),
        arg_max(TimeGenerated, Status, ParentRunId, WorkspaceName, _ResourceId) by RunId, Root;
let root_experiments = runs
    | extend RunKey = tolower(RunId)
    | join kind=inner (experiments | summarize ExperimentName = take_any(ExperimentName) by RunKey) on RunKey
    | summarize Experiment = take_any(ExperimentName) by Root;
let root_statuses = runs
    | where RunId == Root
    | project Root, RootStatus = Status;
let baselines = runs
    | where RunId == Root and Status =~ "Completed"
    | join kind=inner root_experiments on Root
    | summarize BaselineRuns = count(), BaselineP95Seconds = percentile(datetime_diff("second", TimeGenerated,
        FirstSeen), 95) by WorkspaceKey = tolower(WorkspaceName), Experiment;
runs
| join kind=leftouter root_statuses on Root
| where (Status in~ {kql_string_list(QUEUED_STATUSES + RUNNING_STATUSES)}
        and (isempty(RootStatus) or RootStatus !in~ {kql_string_list(TERMINAL_STATUSES)}))
    or (RunId == Root and RunId in~ {kql_string_list(follow_run_ids)})
| join kind=leftouter root_experiments on Root
| extend WorkspaceKey = tolower(WorkspaceName)
| join kind=leftouter baselines on WorkspaceKey, Experiment
| project RunId, ParentRunId, RootRunId = Root, Status, StatusAt = TimeGenerated, FirstSeen, RunningSince,
    WorkspaceName, ResourceId = _ResourceId, Experiment, RootStatus, BaselineRuns, BaselineP95Seconds
"""


@dataclass(frozen=True)
class RunState:
    """The latest known status of one run (a pipeline run or a step) and what its limit needs."""

    run_id: str
    parent_run_id: str
    root_run_id: str
    status: str
    status_at: datetime  # the latest status row
    first_seen: datetime
    running_since: datetime | None
    workspace: Workspace
    experiment: str = ""
    root_status: str = ""
    baseline_runs: int = 0  # the pipeline's runs that completed in the lookback (root runs only)
    baseline_p95: timedelta | None = None

    @property
    def is_pipeline(self) -> bool:
        return self.run_id.lower() == self.root_run_id.lower()

    @property
    def is_running_family(self) -> bool:
        return self.status.lower() in {status.lower() for status in RUNNING_STATUSES}

    @property
    def is_final(self) -> bool:
        return self.status.lower() not in {status.lower() for status in QUEUED_STATUSES + RUNNING_STATUSES}

    @property
    def family_since(self) -> datetime:
        """Since when the run is in its current family: queued since its first row, running since its first
        running-family row. A run queued again after running counts from its latest row."""
        if self.is_running_family:
            return self.running_since or self.status_at
        return self.first_seen if self.running_since is None else self.status_at


def run_states(rows: Iterable[Mapping[str, Any]]) -> list[RunState]:
    states = []
    for row in rows:
        run_id, status_at = text(row, "RunId"), moment(row.get("StatusAt"))
        if not run_id or status_at is None:
            continue
        p95 = row.get("BaselineP95Seconds")
        states.append(
            RunState(
                run_id=run_id,
                parent_run_id=text(row, "ParentRunId"),
                root_run_id=text(row, "RootRunId") or run_id,
                status=text(row, "Status"),
                status_at=status_at,
                first_seen=moment(row.get("FirstSeen")) or status_at,
                running_since=moment(row.get("RunningSince")),
                workspace=Workspace.from_resource_id(text(row, "ResourceId"), text(row, "WorkspaceName")),
                experiment=text(row, "Experiment"),
                root_status=text(row, "RootStatus"),
                baseline_runs=int(row.get("BaselineRuns") or 0),
                baseline_p95=timedelta(seconds=float(p95)) if p95 not in (None, "", "None") else None,
            )
        )
    return states
