"""Azure ML run history (`{api}/history/v1.0/.../runs/...`) and the discovery document, as of the sandbox clock.

The shapes are those of the team's samples (`../shared/reference/aml-run-history/`: Run, PaginatedRunList,
RunDetails with `logFiles`, the discovery document); values come from the pipeline model, so they agree with the
Log Analytics rows. A run exists from its first transition; its status is its latest transition by now; `error`
is set once it has failed; `logFiles` lists its logs once it has started, each a SAS URL to the sandbox's blobs.

The sandbox stands for `https://<region>.api.azureml.ms` at `<endpoint>/aml/<region>`. Error bodies follow the
spec's ErrorResponse; their codes and texts for 404 are an inference (no recorded sample).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .aml import AmlWorkspace, stable_guid
from .blob_logs import sas_url
from .errors import ServiceError
from .pipeline_runs import PipelineRun, Step, plain_log
from .timeutil import format_datetime

SYSTEM_LOGS = ("system_logs/cs_capability/cs-capability.log", "system_logs/lifecycler/execution-wrapper.log")
PIPELINE_LOG = "logs/azureml/executionlogs.txt"


def api_base(base_url: str, region: str) -> str:
    return f"{base_url}/aml/{region}"


def discovery(base_url: str, region: str) -> dict[str, Any]:
    """The discovery document (sample `discovery-get.json`): `api` is what run-history clients use."""
    api = api_base(base_url, region)
    return {
        "api": api,
        "catalog": "https://catalog.cortanaanalytics.com",
        "experimentation": api,
        "gallery": "https://gallery.cortanaintelligence.com/project",
        "history": api,
        "hyperdrive": api,
        "labeling": api,
        "modelmanagement": api,
        "pipelines": api,
        "studiocoreservices": api,
    }


def not_found(run_id: str) -> ServiceError:
    return ServiceError(
        404,
        "UserError",
        f"Run {run_id} was not found",
        severity=None,
        innerError={"code": "NotFoundError", "innerError": None},
    )


def _time(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def _duration(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{round((seconds % 1) * 1e7):07d}"


def _user(pipeline: PipelineRun, workspace: AmlWorkspace) -> dict[str, Any]:
    oid = stable_guid("user", pipeline.created_by)
    return {
        "userObjectId": oid,
        "userPuId": None,
        "userIdp": None,
        "userAltSecId": None,
        "userIss": f"https://sts.windows.net/{stable_guid('tenant', workspace.subscription)}/",
        "userTenantId": stable_guid("tenant", workspace.subscription),
        "userName": pipeline.created_by,
        "upn": None,
    }


def _error(step: Step, ended: datetime, region: str) -> dict[str, Any] | None:
    if step.error is None:
        return None
    inner: dict[str, Any] | None = None
    for code in reversed(step.error.inner):
        inner = {"code": code, "innerError": inner}
    return {
        "error": {
            "code": step.error.code,
            "severity": None,
            "message": step.error.message,
            "messageFormat": "{Message}",
            "messageParameters": {},
            "referenceCode": None,
            "detailsUri": None,
            "target": None,
            "details": [],
            "innerError": inner,
            "additionalInfo": None,
        },
        "correlation": {
            "operation": stable_guid("op", step.run_id).replace("-", ""),
            "request": stable_guid("rq", step.run_id)[:16],
        },
        "environment": region,
        "location": region,
        "time": format_datetime(ended),
        "componentName": "CommonRuntime",
    }


def run(workspace: AmlWorkspace, pipeline: PipelineRun, step: Step | None, now: datetime) -> dict[str, Any]:
    """A `Run` (sample `runhistory-run-get-failed-step.json`) as of `now`: the pipeline run, or one of its steps."""
    life = step or pipeline
    latest = life.at(now)
    assert latest is not None, "find_run hides runs that do not exist yet"
    start, end = life.started(now), life.ended(now)
    user = _user(pipeline, workspace)
    root_uuid = stable_guid("run", pipeline.run_id)
    failed = step is not None and latest.status == "Failed" and end is not None
    trait = "azureml.StepRun" if step else "azureml.PipelineRun"
    compute = step.compute if step else ""
    properties = (
        {
            "ContentSnapshotId": stable_guid("snapshot", pipeline.run_id),
            "StepType": "PythonScriptStep",
            "ComputeTargetType": "AmlCompute" if compute else "Serverless",
            "azureml.moduleid": stable_guid("module", step.component, step.component_version),
            "azureml.moduleName": step.component,
            "azureml.moduleVersion": step.component_version,
            "azureml.runsource": "azureml.StepRun",
            "azureml.nodeid": stable_guid("node", step.name)[:8],
            "azureml.pipelinerunid": pipeline.run_id,
            "azureml.pipeline": pipeline.run_id,
        }
        if step
        else {
            "azureml.runsource": "azureml.PipelineRun",
            "runSource": "MFE",
            "runType": "HTTP",
            "azureml.pipelineComponent": "pipelinerun",
        }
    )
    number = 1 + (pipeline.steps.index(step) + 1 if step else 0)
    revision = 1 + sum(1 for t in life.transitions if t.at <= now)
    return {
        "runNumber": number,
        "rootRunId": pipeline.run_id,
        "createdUtc": _time(life.created),
        "createdBy": user,
        "userId": user["userObjectId"],
        "token": None,
        "tokenExpiryTimeUtc": None,
        "error": _error(step, end, workspace.region) if failed and step and end else None,
        "warnings": None,
        "revision": revision,
        "statusRevision": revision,
        "runUuid": stable_guid("run", life.run_id),
        "parentRunUuid": root_uuid if step else None,
        "rootRunUuid": root_uuid,
        "hasVirtualParent": False,
        "lastStartTimeUtc": None,
        "currentComputeTime": None,
        "computeDuration": _duration(start, end),
        "effectiveStartTimeUtc": None,
        "lastModifiedBy": user,
        "lastModifiedUtc": _time(latest.at),
        "duration": _duration(start, end),
        "cancelationReason": None,
        "runId": life.run_id,
        "parentRunId": pipeline.run_id if step else None,
        "experimentId": stable_guid("experiment", pipeline.experiment),
        "status": latest.status,
        "startTimeUtc": _time(start),
        "endTimeUtc": _time(end),
        "options": {"generateDataContainerIdIfNotSpecified": True},
        "isVirtual": False,
        "displayName": step.name if step else pipeline.display_name,
        "name": None,
        "dataContainerId": f"dcid.{life.run_id}",
        "description": None,
        "hidden": False,
        "runType": trait,
        "runTypeV2": {
            "orchestrator": "Execution",
            "traits": [trait, "scriptRun"] if step else [trait],
            "attribution": "Aether",
            "computeType": "AmlCompute" if compute else "Serverless",
        },
        "properties": properties,
        "parameters": {},
        "actionUris": {},
        "scriptName": None,
        "target": compute or None,
        "uniqueChildRunComputeTargets": [],
        "tags": dict(pipeline.tags) if not step else {},
        "settings": {},
        "services": {},
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": None,
        "jobSpecification": None,
        "primaryMetricName": None,
        "createdFrom": None,
        "cancelUri": None,
        "completeUri": None,
        "diagnosticsUri": None,
        "computeRequest": {"nodeCount": 1, "gpuCount": 0},
        "compute": {
            "target": compute or None,
            "targetType": "AmlCompute" if compute else "Serverless",
            "vmSize": "STANDARD_DS3_V2",
            "instanceCount": 1,
            "gpuCount": 0,
            "priority": "Dedicated",
            "region": workspace.region,
        },
        "retainForLifetimeOfWorkspace": False,
        "queueingInfo": None,
        "activeChildRunId": None,
        "inputs": None,
        "outputs": None,
    }


_DETAILS_KEYS = (
    "runId",
    "runUuid",
    "parentRunUuid",
    "rootRunUuid",
    "target",
    "status",
    "parentRunId",
    "startTimeUtc",
    "endTimeUtc",
    "error",
    "warnings",
    "tags",
    "properties",
    "parameters",
    "services",
    "inputDatasets",
    "outputDatasets",
    "runDefinition",
    "revision",
    "runTypeV2",
    "settings",
    "computeRequest",
    "compute",
    "createdBy",
    "computeDuration",
    "effectiveStartTimeUtc",
    "runNumber",
    "rootRunId",
    "userId",
    "statusRevision",
    "hasVirtualParent",
    "currentComputeTime",
    "lastStartTimeUtc",
    "lastModifiedBy",
    "lastModifiedUtc",
    "duration",
    "inputs",
    "outputs",
)


def log_names(pipeline: PipelineRun, step: Step | None, now: datetime) -> tuple[str, ...]:
    """The logs a run has by `now`: none before it starts."""
    if step is None:
        return (PIPELINE_LOG,) if pipeline.started(now) else ()
    return (step.log_file, *SYSTEM_LOGS) if step.started(now) else ()


def details(
    workspace: AmlWorkspace, pipeline: PipelineRun, step: Step | None, now: datetime, base_url: str, key: bytes
) -> dict[str, Any]:
    """`RunDetails` (sample `runhistory-run-details-failed-step.json`): the run's error and its `logFiles`."""
    body = run(workspace, pipeline, step, now)
    answer = {name: body[name] for name in _DETAILS_KEYS}
    life = step or pipeline
    answer["createdTimeUtc"] = body["createdUtc"]
    answer["logFiles"] = {
        name: sas_url(base_url, workspace.storage_account, f"azureml/ExperimentRun/dcid.{life.run_id}/{name}", now, key)
        for name in log_names(pipeline, step, now)
    }
    start, end = life.started(now), life.ended(now)
    seconds = (end - start).total_seconds() if start and end else 0.0
    answer["jobCost"] = {
        "chargedCpuCoreSeconds": round(seconds * 4, 1),
        "chargedCpuMemoryMegabyteSeconds": 0.0,
        "chargedGpuSeconds": 0.0,
        "chargedNodeUtilizationSeconds": round(seconds, 1),
    }
    return answer


def children(
    workspace: AmlWorkspace, pipeline: PipelineRun, now: datetime, params: dict[str, str], page_size: int, api: str
) -> dict[str, Any]:
    """One page of `PaginatedRunList` (sample `runhistory-children.json`): the steps that exist by now, in
    their order; `nextLink` carries `$continuationtoken` while more are left."""
    visible = [s for s in pipeline.steps if s.created <= now]
    offset = _offset(params.get("$continuationtoken"))
    size = int(params["$top"]) if params.get("$top", "").isdigit() and int(params["$top"]) > 0 else page_size
    page = visible[offset : offset + size]
    token = None
    link = None
    if offset + size < len(visible):
        token = base64.b64encode(json.dumps({"offset": offset + size}).encode()).decode()
        path = f"{workspace.arm_id}/runs/{quote(pipeline.run_id, safe='')}/children"
        link = f"{api}/history/v1.0{path}?$continuationtoken={quote(token, safe='')}"
    return {"value": [run(workspace, pipeline, s, now) for s in page], "continuationToken": token, "nextLink": link}


_CREATED_BEFORE = re.compile(r"(?i)\s*createdUtc\s+lt\s+(\S+)\s*")


def runs_query(
    workspace: AmlWorkspace, pipelines: list[PipelineRun], experiment_id: str, query: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """`runs:query` over one experiment: its runs (each pipeline run and its steps) that exist by now, newest
    first, `top` of them. The sandbox understands the one filter the app sends (`createdUtc lt <time>`) and
    answers 400 for any other, so a change of the app's query is seen in the tests."""
    found = _CREATED_BEFORE.fullmatch(str(query.get("filter") or ""))
    if found is None or query.get("orderBy") not in (None, ["createdUtc desc"]):
        raise ServiceError(400, "UserError", "The sandbox answers runs:query only for createdUtc lt, createdUtc desc")
    before = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    runs = [
        (life.created, run(workspace, pipeline, step, now))
        for pipeline in pipelines
        if stable_guid("experiment", pipeline.experiment) == experiment_id.lower()
        for step in (None, *pipeline.steps)
        for life in [step or pipeline]
        if life.created < before and life.created <= now
    ]
    runs.sort(key=lambda pair: pair[0], reverse=True)
    top = int(query.get("top") or 0) or len(runs)
    return {"value": [body for _, body in runs[:top]], "continuationToken": None, "nextLink": None}


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.b64decode(token))["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError(400, "UserError", "The continuation token is not valid") from exc


def log_text(pipeline: PipelineRun, step: Step | None, name: str) -> str:
    """What a log blob holds: the step's own log, or a few lines the runtime would write."""
    if step is not None and name == step.log_file:
        return step.log if step.log is not None else plain_log(pipeline, step)
    subject = step.name if step else pipeline.display_name
    return f"[lifecycler] {name} of {subject} ({(step or pipeline).run_id})\n[lifecycler] process exited\n"
