"""Azure Resource Manager reads for Azure ML workspaces: the workspace (for run history's discovery URL), its
schedules and its jobs. Thin: azure-core only (no azure-mgmt-*, no azure-ai-ml), best effort inside a `Budget`.

- Workspace GET (`discoveryUrl`, `workspaceId`, `location`): cached per workspace for 24 h in the process; a
  401/403/404 is remembered for 5 minutes, so a workspace the app may not read costs one call per 5 minutes,
  not one per incident.
- Schedules list with `listViewType=All` (the service's default, `EnabledOnly`, hides disabled schedules).
- Jobs: by schedule on the preview route (`scheduled=true&scheduleId=<name>`, only in preview api-versions),
  and the stable pipeline-jobs list, paged until a page holds only jobs older than a given time.

Paging links are followed on the ARM host only, with this client's api-version (as the generated clients do).
Facts and samples: `../shared/reference/aml-run-history/` §1, `../shared/reference/aml-schedules/` §1-2.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from shared.azure.arm_models import AmlWorkspace, ArmJob, JobList, Schedule
from shared.azure.failures import Failure, Unavailable
from shared.azure.http import JsonService, Listing
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

ARM_ENDPOINT = "https://management.azure.com"
API_VERSION = "2025-09-01"  # stable: workspaces, jobs, schedules
PREVIEW_API_VERSION = "2024-01-01-preview"  # the jobs list's scheduled/scheduleId filters exist only in previews
WORKSPACE_TTL = 24 * 3600.0
REFUSAL_TTL = 300.0
SERVICE = "ARM"
_ROLE_HINT = "the app's identity needs {action} on the workspace (see infra/README.md)"
_WORKSPACE_HINTS = {
    403: _ROLE_HINT.format(action="Microsoft.MachineLearningServices/workspaces/read"),
    404: "no such Azure ML workspace (check its subscription, resource group and name)",
}
_SCHEDULE_HINTS = {403: _ROLE_HINT.format(action="Microsoft.MachineLearningServices/workspaces/schedules/read")}
_JOB_HINTS = {403: _ROLE_HINT.format(action="Microsoft.MachineLearningServices/workspaces/jobs/read")}


def workspace_path(workspace: Workspace) -> str | None:
    """The workspace's ARM path, or None when its subscription or resource group is not known."""
    if not (workspace.subscription_id and workspace.resource_group and workspace.name):
        return None
    parts = (workspace.subscription_id, workspace.resource_group, workspace.name)
    sub, rg, name = (quote(part, safe="") for part in parts)
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}"


class Arm:
    """ARM reads for Azure ML workspaces. `endpoint`: https://management.azure.com, a sovereign cloud's, or the
    sandbox's; the token scope is `<endpoint>/.default` unless `scope` says otherwise."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        endpoint: str = ARM_ENDPOINT,
        scope: str | None = None,
        call_seconds: float = 10.0,
        retry_total: int = 2,
        clock: Callable[[], float] = time.monotonic,
        transport: Any = None,
    ) -> None:
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy

        self.endpoint = endpoint.rstrip("/")
        self.scope = scope or f"{self.endpoint}/.default"
        self._http = JsonService(
            SERVICE,
            allowed_hosts=(urlsplit(self.endpoint).netloc,),
            auth_policy=BearerTokenCredentialPolicy(credential, self.scope),
            call_seconds=call_seconds,
            retry_total=retry_total,
            transport=transport,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._workspaces: dict[str, tuple[float, AmlWorkspace | Unavailable]] = {}
        self._preview_offered = True

    def workspace(self, workspace: Workspace, budget: Budget) -> AmlWorkspace | Unavailable:
        """The workspace's location, id and discovery URL (cached 24 h; a refusal for 5 minutes)."""
        path = workspace_path(workspace)
        if path is None:
            return _unknown(workspace)
        key = path.lower()
        with self._lock:
            cached = self._workspaces.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        body = self._http.get_json(
            self.endpoint + path, budget, params={"api-version": API_VERSION}, hints=_WORKSPACE_HINTS
        )
        found = body if isinstance(body, Unavailable) else AmlWorkspace.from_json(body)
        ttl = WORKSPACE_TTL if isinstance(found, AmlWorkspace) else REFUSAL_TTL if found.needs_a_person else 0.0
        if ttl:
            with self._lock:
                self._workspaces[key] = (self._clock() + ttl, found)
        return found

    def job(self, workspace: Workspace, name: str, budget: Budget) -> ArmJob | Unavailable:
        """One job: a pipeline (root) job. A pipeline's step is not described by ARM (`properties: null`):
        that answer comes back as NOT_FOUND, ask run history instead."""
        path = workspace_path(workspace)
        if path is None:
            return _unknown(workspace)
        body = self._http.get_json(
            f"{self.endpoint}{path}/jobs/{quote(name, safe='')}",
            budget,
            params={"api-version": API_VERSION},
            hints=_JOB_HINTS,
        )
        if isinstance(body, Unavailable):
            return body
        if not isinstance(body.get("properties"), dict):
            return Unavailable(
                SERVICE,
                Failure.NOT_FOUND,
                f"{SERVICE} does not describe {name}: a pipeline's step is only in run history",
            )
        return ArmJob.from_json(body)

    def schedules(self, workspace: Workspace, budget: Budget, *, max_pages: int = 20) -> list[Schedule] | Unavailable:
        """Every schedule of the workspace, enabled or not (all pages, or Unavailable)."""
        path = workspace_path(workspace)
        if path is None:
            return _unknown(workspace)
        listing = self._http.get_pages(
            f"{self.endpoint}{path}/schedules",
            budget,
            params={"api-version": API_VERSION, "listViewType": "All"},
            keep_params=("api-version",),
            max_pages=max_pages,
            hints=_SCHEDULE_HINTS,
        )
        if isinstance(listing, Unavailable):
            return listing
        if not listing.complete:
            return Unavailable(
                SERVICE, Failure.BAD_ANSWER, f"{SERVICE}: more than {max_pages} pages of schedules; not read"
            )
        return [Schedule.from_json(item) for item in listing.items]

    def jobs_by_schedule(
        self, workspace: Workspace, schedule: str, budget: Budget, *, max_pages: int = 5
    ) -> JobList | Unavailable:
        """The jobs the service says `schedule` created (preview route). Failure.UNSUPPORTED once the preview
        api-version is refused: from then on without a call; use `pipeline_jobs` instead."""
        path = workspace_path(workspace)
        if path is None:
            return _unknown(workspace)
        if not self._preview_offered:
            return Unavailable(SERVICE, Failure.UNSUPPORTED, f"{SERVICE} does not offer {PREVIEW_API_VERSION}")
        params = {
            "api-version": PREVIEW_API_VERSION,
            "scheduled": "true",
            "scheduleId": schedule,
            "listViewType": "All",
        }
        listing = self._http.get_pages(
            f"{self.endpoint}{path}/jobs",
            budget,
            params=params,
            keep_params=tuple(params),
            max_pages=max_pages,
            hints=_JOB_HINTS,
        )
        if isinstance(listing, Unavailable) and listing.failure == Failure.UNSUPPORTED:
            self._preview_offered = False
        return _jobs(listing)

    def pipeline_jobs(
        self, workspace: Workspace, budget: Budget, *, created_since: datetime | None = None, max_pages: int = 10
    ) -> JobList | Unavailable:
        """Pipeline jobs of the workspace (stable route), paged until a whole page was created before
        `created_since` or `max_pages` were read (then `complete` is False)."""
        path = workspace_path(workspace)
        if path is None:
            return _unknown(workspace)

        def all_older(page: list[dict[str, Any]]) -> bool:
            times = [ArmJob.from_json(item).created_at for item in page]
            return created_since is not None and all(t is not None and t < created_since for t in times)

        params = {"api-version": API_VERSION, "jobType": "Pipeline", "listViewType": "All"}
        listing = self._http.get_pages(
            f"{self.endpoint}{path}/jobs",
            budget,
            params=params,
            keep_params=("api-version",),
            max_pages=max_pages,
            stop=all_older,
            hints=_JOB_HINTS,
        )
        return _jobs(listing)


def _jobs(listing: Listing | Unavailable) -> JobList | Unavailable:
    if isinstance(listing, Unavailable):
        return listing
    return JobList([ArmJob.from_json(item) for item in listing.items], listing.complete)


def _unknown(workspace: Workspace) -> Unavailable:
    return Unavailable(
        SERVICE,
        Failure.NOT_FOUND,
        f"{SERVICE}: workspace {workspace.name} has no known subscription "
        "and resource group (its log rows carry no _ResourceId)",
    )
