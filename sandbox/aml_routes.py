"""Routing for the Azure ML services: ARM (`/subscriptions/...`), discovery and run history (`/aml/<region>/...`)
and log blobs (`/blob/<account>/...`), each with its own authentication, faults and error format.

- ARM and run history need a bearer token (401 without one); a token whose `aud` the test refused
  (`Faults.refuse_audience`) answers 401 with `WWW-Authenticate`, as Entra-protected APIs do.
- Discovery needs nothing; a blob needs its SAS and no Authorization header.
- Faults (`Faults.fail_service`) are taken per service and Azure ML workspace before anything else: a slow
  answer sleeps in wall time (client timeouts are wall time), an error answers in the service's own format.

Every request is recorded (`AzureMl.requests`): service, path without its query, workspace, whether it carried an
Authorization header, its range.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from . import arm, blob_logs, run_history
from .errors import ServiceError

if TYPE_CHECKING:
    from .emulator import Sandbox

Answer = tuple[int, Any, dict[str, str]]
_WS = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)
_ARM = re.compile(rf"(?i){_WS}(?:/(?P<kind>jobs|schedules)(?:/(?P<name>[^/]+))?)?")
_HISTORY = re.compile(
    rf"(?i)/aml/(?P<region>[^/]+)/history/v1\.0{_WS}/runs/(?P<run>[^/]+)(?:/(?P<kind>children|details))?"
)
_QUERY = re.compile(rf"(?i)/aml/(?P<region>[^/]+)/history/v1\.0{_WS}/experimentids/(?P<experiment>[^/]+)/runs:query")
_DISCOVERY = re.compile(r"/aml/(?P<region>[^/]+)/discovery")
_BLOB = re.compile(r"/blob/(?P<account>[a-z0-9]+)/(?P<path>.+)")
_ARM_ACTIONS = {None: "workspaces/read", "jobs": "workspaces/jobs/read", "schedules": "workspaces/schedules/read"}
_SERVER_CODES = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


def answer(
    sb: Sandbox, method: str, raw_path: str, query: str, headers: Any, base_url: str, body: Any = None
) -> Answer | None:
    """The answer of an Azure ML service, or None when the path is none of theirs (`body`: a POST's JSON)."""
    path = unquote(raw_path)
    routes: list[tuple[re.Pattern[str], str, Callable[..., Answer]]] = [
        (_ARM, "arm", _arm),
        (_HISTORY, "runhistory", _history),
        (_QUERY, "runhistory", _runs_query),
        (_DISCOVERY, "discovery", _discovery),
        (_BLOB, "blob", _blob),
    ]
    for pattern, service, handler in routes:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        groups = match.groupdict()
        workspace = groups.get("ws")
        if service == "blob":
            found = sb.aml.workspace_by_account(groups["account"])
            workspace = found.name if found else None
        authorization = headers.get("Authorization", "")
        sb.aml.record(
            {
                "service": service,
                "method": method,
                "path": path,
                "workspace": workspace,
                "authorization": bool(authorization),
                "range": headers.get("x-ms-range") or headers.get("Range"),
            }
        )
        if method != ("POST" if pattern is _QUERY else "GET"):
            raise ServiceError(405, "MethodNotAllowed", f"The sandbox answers GET only on {service}")
        if service in ("arm", "runhistory"):
            _authenticate(sb, service, authorization)
        if service == "blob" and authorization:
            raise blob_logs.BlobError(
                400,
                "SandboxRefused",
                "An Authorization header was sent with a SAS URL (the "
                "sandbox refuses it: a client must not send a token to a log blob)",
            )
        _fault(sb, service, workspace, groups.get("kind"))
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if pattern is _QUERY:
            params = {**params, **{k: v for k, v in (body or {}).items() if k in ("filter", "orderBy", "top")}}
        return handler(sb, groups, params, query, headers, base_url)
    return None


def _audience(authorization: str) -> str | None:
    parts = authorization.removeprefix("Bearer ").strip().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims.get("aud") if isinstance(claims, dict) else None


def _authenticate(sb: Sandbox, service: str, authorization: str) -> None:
    challenge = {
        "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        'error="invalid_token", error_description="The access token is invalid."'
    }
    if not authorization.startswith("Bearer ") or not authorization.removeprefix("Bearer ").strip():
        raise ServiceError(
            401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", challenge
        )
    audience = _audience(authorization)
    if audience and sb.faults.refuses(service, audience):
        raise ServiceError(
            401, "InvalidAuthenticationToken", f"The access token has an invalid audience '{audience}'.", challenge
        )


def _fault(sb: Sandbox, service: str, workspace: str | None, kind: str | None) -> None:
    fault = sb.faults.take_service_fault(service, workspace)
    if fault is None:
        return
    if fault.delay:
        time.sleep(fault.delay)
    if fault.status is None:
        return
    status = fault.status
    headers = sb.faults.retry_headers({"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {})
    if service == "blob":
        code, message = {
            403: (
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
            404: ("BlobNotFound", "The specified blob does not exist."),
            503: ("ServerBusy", "The server is busy."),
        }.get(status, ("InternalError", "Server error."))
        raise blob_logs.BlobError(status, code, message, headers=headers)
    if service == "runhistory":
        action = "Microsoft.MachineLearningServices/workspaces/experiments/runs/read"
        inner, message = {
            401: ("AuthenticationError", "Authentication failed."),
            403: ("AuthorizationError", f"The identity does not have authorization to perform action '{action}'."),
            404: ("NotFoundError", "The run was not found."),
            429: ("RequestThrottled", "Too many requests."),
        }.get(status, ("ServiceError", "Service error."))
        raise ServiceError(
            status,
            "UserError" if status < 500 else "SystemError",
            message,
            headers,
            innerError={"code": inner, "innerError": None},
        )
    action = f"Microsoft.MachineLearningServices/{_ARM_ACTIONS.get(kind, 'workspaces/read')}"
    code, message = {
        401: ("InvalidAuthenticationToken", "The access token is invalid."),
        403: (
            "AuthorizationFailed",
            f"The client does not have authorization to perform action '{action}' over "
            f"scope '/workspaces/{workspace}' or the scope is invalid.",
        ),
        404: (
            "ResourceNotFound",
            f"The Resource 'Microsoft.MachineLearningServices/workspaces/{workspace}' was not found.",
        ),
        429: (
            "SubscriptionRequestsThrottled",
            "Number of read requests for subscription exceeded the limit. Please "
            f"try again after '{fault.retry_after or 5}' seconds.",
        ),
    }.get(status, (_SERVER_CODES.get(status, "InternalServerError"), "The service is temporarily unavailable."))
    raise ServiceError(status, code, message, headers)


def _arm(
    sb: Sandbox, groups: dict[str, Any], params: dict[str, str], query: str, headers: Any, base_url: str
) -> Answer:
    ws = sb.aml.workspace(groups["sub"], groups["rg"], groups["ws"])
    now = sb.now
    kind = (groups.get("kind") or "").lower()
    url = f"{base_url}{ws.arm_id}/{kind}"
    if kind == "schedules" and not groups.get("name"):
        return 200, arm.schedules(sb.aml, ws, now, params, url), {}
    if kind == "jobs" and not groups.get("name"):
        return 200, arm.jobs(sb.aml, ws, now, params, url), {}
    arm.check_api_version(sb.aml, params, f"workspaces/{kind}" if kind else "workspaces")
    if not kind:
        return 200, arm.workspace(ws, base_url), {}
    found = sb.aml.find_run(ws, groups["name"], now) if kind == "jobs" else None
    if found is None:
        raise ServiceError(404, "ResourceNotFound", f"The Resource '{groups['name']}' was not found.")
    pipeline, step = found
    return 200, (arm.step_job(ws, step.run_id) if step else arm.job(ws, pipeline, now)), {}


def _history(
    sb: Sandbox, groups: dict[str, Any], params: dict[str, str], query: str, headers: Any, base_url: str
) -> Answer:
    ws = _history_workspace(sb, groups)
    now = sb.now
    found = sb.aml.find_run(ws, groups["run"], now) if ws.region.lower() == groups["region"].lower() else None
    if found is None:
        raise run_history.not_found(groups["run"])
    pipeline, step = found
    kind = (groups.get("kind") or "").lower()
    if kind == "children":
        page = (
            run_history.children(ws, pipeline, now, params, sb.aml.page_size, run_history.api_base(base_url, ws.region))
            if step is None
            else {"value": [], "continuationToken": None, "nextLink": None}
        )
        return 200, page, {}
    if kind == "details":
        return 200, run_history.details(ws, pipeline, step, now, base_url, sb.aml.signing_key), {}
    return 200, run_history.run(ws, pipeline, step, now), {}


def _history_workspace(sb: Sandbox, groups: dict[str, Any]) -> Any:
    """The workspace a run-history path names, or run history's own 404."""
    try:
        return sb.aml.workspace(groups["sub"], groups["rg"], groups["ws"])
    except ServiceError as exc:
        raise ServiceError(404, "UserError", f"Workspace {groups['ws']} was not found") from exc


def _runs_query(
    sb: Sandbox, groups: dict[str, Any], params: dict[str, Any], query: str, headers: Any, base_url: str
) -> Answer:
    """`experimentids/{id}/runs:query`: the experiment's runs (pipelines and their steps) by the body's query."""
    ws = _history_workspace(sb, groups)
    return 200, run_history.runs_query(ws, sb.aml.pipelines(ws, sb.now), groups["experiment"], params, sb.now), {}


def _discovery(
    sb: Sandbox, groups: dict[str, Any], params: dict[str, str], query: str, headers: Any, base_url: str
) -> Answer:
    return 200, run_history.discovery(base_url, groups["region"]), {}


def _blob(
    sb: Sandbox, groups: dict[str, Any], params: dict[str, str], query: str, headers: Any, base_url: str
) -> Answer:
    account, path = groups["account"], groups["path"]
    blob_logs.check_sas(account, path, query, sb.now, sb.aml.signing_key)
    ws = sb.aml.workspace_by_account(account)
    match = re.fullmatch(r"azureml/ExperimentRun/dcid\.(?P<run>[^/]+)/(?P<name>.+)", path)
    found = sb.aml.find_run(ws, match["run"], sb.now) if ws and match else None
    if found is None or match is None or match["name"] not in run_history.log_names(*found, sb.now):
        raise blob_logs.BlobError(404, "BlobNotFound", "The specified blob does not exist.")
    pipeline, step = found
    life = step or pipeline
    content = run_history.log_text(pipeline, step, match["name"]).encode()
    return blob_logs.read(content, headers, life.started(sb.now) or life.created)
