"""Azure Resource Manager for Azure ML workspaces: workspace GET, Jobs (list, get) and Schedules (list), as of the
sandbox clock, in the shapes of the team's samples (`../shared/reference/aml-run-history/arm-*.json`,
`../shared/reference/aml-schedules/arm-*.json`).

- Every call needs `api-version` (400 `MissingApiVersionParameter` otherwise, as ARM answers); a version in
  `AzureMl.retired_api_versions` answers 400 `NoRegisteredProviderFound`.
- Lists are paged (`AzureMl.page_size` per page) with `$skip` tokens in `nextLink`, newest job first.
- Jobs are the pipeline runs that exist by now (name = root run id). `scheduled=true&scheduleId=<name>` filters
  to the runs a schedule created, but only on a preview api-version: the stable versions do not have those
  parameters, and the sandbox ignores them there (an inference: ARM passes unknown query parameters on).
- Schedules: `listViewType` EnabledOnly (the default), DisabledOnly or All.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .aml import AmlWorkspace, AzureMl, stable_guid
from .errors import ServiceError
from .pipeline_runs import PipelineRun
from .run_history import api_base
from .timeutil import format_datetime, parse_datetime

JOB_TYPE = "Microsoft.MachineLearningServices/workspaces/jobs"
SCHEDULE_TYPE = "Microsoft.MachineLearningServices/workspaces/schedules"


def check_api_version(aml: AzureMl, params: dict[str, str], resource_type: str) -> str:
    version = params.get("api-version", "")
    if not version:
        raise ServiceError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version in aml.retired_api_versions:
        raise ServiceError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location "
            f"'westeurope' and API version '{version}' for type '{resource_type}'.",
        )
    return version


def workspace(ws: AmlWorkspace, base_url: str) -> dict[str, Any]:
    """Workspace GET (sample `arm-workspace-get-fragment.json`): what run-history clients need."""
    storage = (
        f"/subscriptions/{ws.subscription}/resourceGroups/{ws.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{ws.storage_account}"
    )
    return {
        "id": ws.arm_id,
        "name": ws.name,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": ws.region,
        "kind": "Default",
        "properties": {
            "friendlyName": ws.name,
            "workspaceId": ws.workspace_id,
            "discoveryUrl": f"{api_base(base_url, ws.region)}/discovery",
            "mlFlowTrackingUri": f"azureml://{ws.region}.api.azureml.ms/mlflow/v1.0{ws.arm_id}",
            "publicNetworkAccess": "Enabled",
            "storageAccount": storage,
            "provisioningState": "Succeeded",
        },
    }


def job(ws: AmlWorkspace, pipeline: PipelineRun, now: datetime) -> dict[str, Any]:
    """A pipeline job (sample `arm-job-get-pipeline.json`) as of `now`."""
    latest = pipeline.at(now)
    tenant = stable_guid("tenant", ws.subscription)
    studio = (
        f"https://ml.azure.com/runs/{pipeline.run_id}?wsid=/subscriptions/{ws.subscription}/resourcegroups/"
        f"{ws.resource_group}/workspaces/{ws.name}&tid={tenant}"
    )
    return {
        "id": f"{ws.arm_id}/jobs/{pipeline.run_id}",
        "name": pipeline.run_id,
        "type": JOB_TYPE,
        "properties": {
            "description": None,
            "tags": dict(pipeline.tags),
            "properties": {
                "azureml.runsource": "azureml.PipelineRun",
                "runSource": "MFE",
                "runType": "HTTP",
                "azureml.parameters": "{}",
                "azureml.continue_on_step_failure": "False",
                "azureml.pipelineComponent": "pipelinerun",
            },
            "displayName": pipeline.display_name,
            "status": latest.status if latest else "NotStarted",
            "experimentName": pipeline.experiment,
            "services": {
                "Studio": {
                    "jobServiceType": "Studio",
                    "port": None,
                    "endpoint": studio,
                    "status": None,
                    "errorMessage": None,
                    "properties": None,
                }
            },
            "computeId": None,
            "isArchived": False,
            "identity": None,
            "componentId": None,
            "notificationSetting": None,
            "jobType": "Pipeline",
            "settings": {"default_compute": "cpu-cluster", "continue_on_step_failure": False},
            "inputs": {},
            "outputs": {},
        },
        "systemData": {
            "createdAt": format_datetime(pipeline.created),
            "createdBy": pipeline.created_by,
            "createdByType": "Application" if pipeline.schedule else "User",
            "lastModifiedAt": None,
            "lastModifiedBy": None,
            "lastModifiedByType": None,
        },
    }


def step_job(ws: AmlWorkspace, run_id: str) -> dict[str, Any]:
    """Jobs - Get of a pipeline's step: ARM does not describe it (sample `arm-job-get-step.json`)."""
    return {
        "id": f"{ws.arm_id}/jobs/{run_id}",
        "name": run_id,
        "type": JOB_TYPE,
        "properties": None,
        "systemData": None,
    }


def jobs(aml: AzureMl, ws: AmlWorkspace, now: datetime, params: dict[str, str], url: str) -> dict[str, Any]:
    version = check_api_version(aml, params, "workspaces/jobs")
    runs = aml.pipelines(ws, now)
    if version.endswith("-preview") and params.get("scheduled", "").lower() == "true":
        wanted = params.get("scheduleId", "").lower()
        runs = [r for r in runs if r.schedule and (not wanted or r.schedule.lower() == wanted)]
    return _page([job(ws, r, now) for r in runs], params, aml.page_size, url)


def schedules(aml: AzureMl, ws: AmlWorkspace, now: datetime, params: dict[str, str], url: str) -> dict[str, Any]:
    check_api_version(aml, params, "workspaces/schedules")
    view = params.get("listViewType", "EnabledOnly").lower()
    bodies = [s for s in aml.schedules(ws) if parse_datetime(s["systemData"]["createdAt"]) <= now]
    if view != "all":
        enabled = view == "enabledonly"
        bodies = [s for s in bodies if s["properties"]["isEnabled"] is enabled]
    return _page(bodies, params, aml.page_size, url)


def _page(items: list[dict[str, Any]], params: dict[str, str], size: int, url: str) -> dict[str, Any]:
    offset = 0
    if params.get("$skip"):
        try:
            offset = int(json.loads(base64.b64decode(params["$skip"]))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(400, "InvalidSkipToken", "The $skip token is not valid.") from exc
    page: dict[str, Any] = {"value": items[offset : offset + size]}
    if offset + size < len(items):
        token = base64.b64encode(json.dumps({"offset": offset + size}).encode()).decode()
        kept = {k: v for k, v in params.items() if k != "$skip"}
        page["nextLink"] = f"{url}?{urlencode({**kept, '$skip': token}, safe='$')}"
    return page


def cron_trigger(
    expression: str, time_zone: str = "UTC", start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    return {"triggerType": "Cron", "expression": expression, "timeZone": time_zone, "startTime": start, "endTime": end}


def recurrence_trigger(
    frequency: str,
    interval: int,
    *,
    hours: tuple[int, ...] = (),
    minutes: tuple[int, ...] = (),
    week_days: tuple[str, ...] = (),
    time_zone: str = "UTC",
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    return {
        "triggerType": "Recurrence",
        "frequency": frequency,
        "interval": interval,
        "schedule": {
            "hours": list(hours),
            "minutes": list(minutes),
            "weekDays": list(week_days) or None,
            "monthDays": None,
        },
        "timeZone": time_zone,
        "startTime": start,
        "endTime": end,
    }


def schedule_body(
    ws: AmlWorkspace,
    name: str,
    trigger: dict[str, Any],
    *,
    created_at: datetime,
    modified_at: datetime | None = None,
    enabled: bool = True,
    action_type: str = "CreateJob",
    experiment: str | None = None,
    description: str = "",
    created_by: str = "Jane Doe",
    provisioning_state: str = "Succeeded",
) -> dict[str, Any]:
    """A schedule resource (samples `arm-schedules-list*.json`)."""
    action: dict[str, Any] = {"actionType": action_type}
    if action_type == "CreateJob":
        action["jobDefinition"] = {
            "jobType": "Pipeline",
            "sourceJobId": f"{ws.arm_id}/jobs/{name}_source",
            "experimentName": experiment or name,
            "displayName": None,
            "description": None,
            "tags": {},
            "properties": {},
            "computeId": None,
            "isArchived": False,
            "identity": None,
            "componentId": None,
            "notificationSetting": None,
            "services": None,
            "status": None,
            "settings": {"default_compute": "cpu-cluster", "continue_on_step_failure": False},
            "inputs": {},
            "outputs": {},
            "jobs": None,
        }
    modified = modified_at or created_at
    return {
        "id": f"{ws.arm_id}/schedules/{name}",
        "name": name,
        "type": SCHEDULE_TYPE,
        "properties": {
            "description": description,
            "tags": {},
            "properties": {},
            "displayName": name,
            "isEnabled": enabled,
            "trigger": trigger,
            "action": action,
            "provisioningState": provisioning_state,
        },
        "systemData": {
            "createdAt": format_datetime(created_at),
            "createdBy": created_by,
            "createdByType": "User",
            "lastModifiedAt": format_datetime(modified),
            "lastModifiedBy": created_by,
            "lastModifiedByType": "User",
        },
    }
