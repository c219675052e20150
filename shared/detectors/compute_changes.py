"""Risky control-plane changes (compute deletion and others) from the activity log: the query, the incidents, the
view and the spec.

An ARM write/delete/action logs a start record and a final record sharing `CorrelationId`; only the final one
(Succeeded or Failed) makes an incident, so the overlap and a start record in an earlier window never produce a
second email. A correlation id is not an operation id: every operation of one ARM deployment (or one client
request) shares it, so deleting three computes in one deployment is three operations. An incident is therefore
keyed by correlation id + resource id + operation, each with its own final record. `AzureActivity` values may be
upper-case: every comparison is case-insensitive.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from shared.core.azure_ml import Workspace
from shared.core.kql import kql_datetime, kql_string_list, optional_table
from shared.core.links import portal_resource_url
from shared.core.log_rows import moment, text
from shared.core.resource_ids import resource_name
from shared.detectors.base import (
    Detected,
    DetectorSpec,
    DigestLine,
    Findings,
    QueryWindow,
    Shape,
    ViewOptions,
    from_payload,
    to_payload,
)
from shared.rules.parts import is_watched

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shared.rules import Rules
    from shared.settings import Settings

KIND = "compute-change"
SCAN = "compute-changes"
FINAL_STATUSES = ("Succeeded", "Success", "Failed", "Failure")


_ACTIVITY_COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("CorrelationId", "string"),
    ("OperationNameValue", "string"),
    ("ActivityStatusValue", "string"),
    ("Caller", "string"),
    ("CallerIpAddress", "string"),
    ("_ResourceId", "string"),
)
_PIPELINE_FAILURE_COLUMNS = (("FailedAt", "datetime"), ("Workspace", "string"))


def compute_changes_query(window: QueryWindow, operations: tuple[str, ...]) -> str:
    """Final records of the watched operations ingested in the window, one per operation on one resource, with
    the pipeline runs that failed in the same Azure ML workspace after the change (did it break something?).
    Both tables are optional (`shared.core.kql.optional_table`): a workspace without them yields no rows."""
    start, end = kql_datetime(window.start), kql_datetime(window.end)
    activity = optional_table(
        "AzureActivity",
        _ACTIVITY_COLUMNS,
        f"""| where ingestion_time() > window_start
    | where ingestion_time() <= window_end
    | where OperationNameValue in~ {kql_string_list(operations)}
    | where ActivityStatusValue in~ {kql_string_list(FINAL_STATUSES)}
    | project TimeGenerated, CorrelationId, OperationNameValue, ActivityStatusValue, Caller, CallerIpAddress,
        _ResourceId""",
    )
    failures = optional_table(
        "AmlRunStatusChangedEvent",
        _PIPELINE_FAILURE_COLUMNS,
        """| where Status =~ "Failed"
    | where ingestion_time() <= window_end
    | where isempty(ParentRunId)
    | project FailedAt = TimeGenerated, Workspace = tolower(WorkspaceName)""",
    )
    return f"""let window_start = {start};
let window_end = {end};
let changes = {activity}
    | summarize arg_max(TimeGenerated, OperationNameValue, ActivityStatusValue, Caller, CallerIpAddress, _ResourceId)
        by CorrelationId, ResourceKey = tolower(_ResourceId), OperationKey = tolower(OperationNameValue)
    | extend Workspace = extract("/workspaces/([^/]+)", 1, ResourceKey);
let failures = {failures};
changes
| join kind=leftouter failures on Workspace
| summarize FailedPipelinesAfter = countif(FailedAt >= TimeGenerated),
    FirstFailureAfter = min(iff(FailedAt >= TimeGenerated, FailedAt, datetime(null)))
    by CorrelationId, TimeGenerated, OperationNameValue, ActivityStatusValue, Caller, CallerIpAddress,
    ResourceId = _ResourceId, Workspace
"""


@dataclass(frozen=True)
class ComputeChange:
    correlation_id: str
    operation: str
    status: str
    caller: str
    caller_ip: str
    resource_id: str
    workspace: Workspace
    time: datetime
    failed_pipelines_after: int = 0
    first_failure_after: datetime | None = None

    @property
    def key(self) -> str:
        """One operation on one resource. Before this key had its resource and operation, an incident was keyed by
        the correlation id alone: after an upgrade, a change whose final record the first scans re-read (within
        SCAN_OVERLAP_MINUTES of the upgrade) is claimed again under this key and emailed a second time. That is
        at most one overlap's worth, once; checking the old key on every claim for ever would cost more."""
        return f"{KIND}:{self.correlation_id}:{self.resource_id.lower()}:{self.operation.lower()}"

    @property
    def target(self) -> str:
        """The last segment of the resource id: the compute, datastore or workspace acted on."""
        return resource_name(self.resource_id)

    @property
    def verb(self) -> str:
        """`computes/delete` from `Microsoft.MachineLearningServices/workspaces/computes/delete`."""
        parts = self.operation.lower().split("/")  # the activity log often upper-cases it
        return "/".join(parts[-2:])

    @property
    def labels(self) -> dict[str, str]:
        return {"kind": KIND, "workspace": self.workspace.name, "compute": self.target, "operation": self.operation}


def read_changes(rows: list[dict[str, Any]]) -> tuple[list[ComputeChange], Counter[str]]:
    """The changes, oldest first, and the rows that could not be used, counted by why."""
    changes = []
    skipped: Counter[str] = Counter()
    for row in rows:
        correlation_id = text(row, "CorrelationId")
        time = moment(row.get("TimeGenerated"))
        if not correlation_id or time is None:
            skipped["no CorrelationId" if not correlation_id else "no TimeGenerated"] += 1
            continue
        resource_id = text(row, "ResourceId")
        changes.append(
            ComputeChange(
                correlation_id=correlation_id,
                operation=text(row, "OperationNameValue"),
                status=text(row, "ActivityStatusValue"),
                caller=text(row, "Caller"),
                caller_ip=text(row, "CallerIpAddress"),
                resource_id=resource_id,
                workspace=Workspace.from_resource_id(resource_id),
                time=time,
                failed_pipelines_after=int(row.get("FailedPipelinesAfter") or 0),
                first_failure_after=moment(row.get("FirstFailureAfter")),
            )
        )
    return sorted(changes, key=lambda change: (change.time, change.correlation_id)), skipped


def change_payload(change: ComputeChange) -> dict[str, Any]:
    return to_payload(change)


def change_from_payload(payload: Mapping[str, Any]) -> ComputeChange:
    return from_payload(ComputeChange, payload)


@dataclass(frozen=True)
class ComputeChangeDetector:
    """Risky activity-log operations, for the generic Log Analytics scan."""

    operations: tuple[str, ...]
    workspaces: tuple[str, ...] = ()
    scan: ClassVar[str] = SCAN

    def query(self, window: QueryWindow) -> str:
        return compute_changes_query(window, self.operations)

    def detect(self, rows: list[dict[str, Any]]) -> Findings:
        changes, skipped = read_changes(rows)
        return Findings(
            [
                Detected(change.key, KIND, change_payload(change), change.labels, change.time)
                for change in changes
                if is_watched(change.workspace.name, self.workspaces)
            ],
            skipped,
        )


def view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    change = change_from_payload(payload)
    subject = (
        f"[AML] {change.verb} {change.status.lower()}: {change.target} in {change.workspace.name} by {change.caller}"
    )
    what = f"{change.verb} {change.status.lower()} by {change.caller}"
    digest = DigestLine(change.time, change.workspace.name, portal_resource_url(change.resource_id), what)
    return {"subject": subject, "change": change, "digest": digest}


def build(rules: Rules, settings: Settings) -> ComputeChangeDetector:
    watch = rules.compute_changes
    return ComputeChangeDetector(tuple(watch.operations), tuple(watch.workspaces))


SPEC = DetectorSpec(
    kind=KIND,
    title="compute changes",
    shape=Shape.WINDOW,
    view=view,
    templates="compute_change",
    scan=SCAN,
    function="scan_compute_changes",
    schedule_setting="COMPUTE_CHANGES_SCHEDULE",
    rules_section="compute_changes",
    build=build,
)
