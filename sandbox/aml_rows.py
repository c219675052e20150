"""Azure ML's Log Analytics rows as the service writes them (AmlRunStatusChangedEvent, AmlComputeJobEvent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
RESOURCE_GROUP = "rg-ml-prod"


def workspace_resource_id(workspace: str) -> str:
    # Log Analytics upper-cases _ResourceId; the app must cope.
    return (
        f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}/RESOURCEGROUPS/{RESOURCE_GROUP.upper()}"
        f"/PROVIDERS/MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/{workspace.upper()}"
    )


def status_row(
    workspace: str,
    run_id: str,
    parent: str,
    root: str,
    status: str,
    at: datetime,
    message: str = "",
    ingest_delay: timedelta = timedelta(0),
) -> dict[str, Any]:
    return {
        "TimeGenerated": at,
        "_IngestedAt": at + ingest_delay,
        "RunId": run_id,
        "ParentRunId": parent,
        "RootRunId": root,
        "Status": status,
        "Message": message,
        "WorkspaceName": workspace,
        "_ResourceId": workspace_resource_id(workspace),
        "OperationName": "Microsoft.MachineLearningServices/workspaces/runs/statuschange",
        "Type": "AmlRunStatusChangedEvent",
    }


def job_failed_row(
    workspace: str,
    run_id: str,
    experiment: str,
    cluster: str,
    at: datetime,
    error: str,
    details: str = "",
    ingest_delay: timedelta = timedelta(0),
) -> dict[str, Any]:
    return {
        "TimeGenerated": at,
        "_IngestedAt": at + ingest_delay,
        "JobName": run_id,
        "EventType": "JobFailed",
        "ExperimentName": experiment,
        "ClusterName": cluster,
        "JobErrorMessage": error,
        "ErrorDetails": details,
        "WorkspaceName": workspace,
        "_ResourceId": workspace_resource_id(workspace),
        "Type": "AmlComputeJobEvent",
    }
