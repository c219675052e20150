"""Azure ML run history: a pipeline's steps (names, statuses, times, errors) and the tails of their logs.

The route (`../shared/reference/aml-run-history/README.md` §0, §6): ARM workspace GET -> `discoveryUrl` ->
GET it without a token -> `api` (the regional host; both cached per workspace for 24 h) -> under
`{api}/history/v1.0/subscriptions/.../workspaces/{ws}`: `runs/{root}/children` (following `nextLink`),
`runs/{id}/details` (the error and `logFiles`, name -> read-only SAS URL), `runs/{id}` (one run, e.g. a step of
a sub-pipeline). Then the log tail from the SAS URL (`shared.azure.log_tail`).

Token: azure-ai-ml sends an ARM-scoped token to run history; the service's spec names `https://ml.azure.com`.
The client asks for the management scope first and, when run history answers 401, for the next scope, and keeps
the one that worked. A workspace whose run history answered 401/403 is not asked again for 5 minutes.

Hosts: tokens go only to an `api` host that is https and under an allowed suffix (`.api.azureml.ms` and the
sovereign clouds' by default; the sandbox's host when configured), never to a host a discovery document or a
paging link names otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.azure.arm import REFUSAL_TTL, WORKSPACE_TTL, Arm, workspace_path
from shared.azure.failures import Failure, Unavailable
from shared.azure.http import JsonService, host_allowed
from shared.azure.log_tail import BLOB_HOSTS, LogBlobs
from shared.azure.run_models import RunDetails, StepList, StepReport, StepRun
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)

SERVICE = "run history"
API_VERSION = "v1.0"
SCOPES = ("https://management.azure.com/.default", "https://ml.azure.com/.default")
API_HOSTS = (".api.azureml.ms", ".api.ml.azure.us", ".api.ml.azure.cn")
_HINTS = {
    401: "the token was refused for every scope tried",
    403: "the app's identity needs read access to the workspace's jobs (see infra/README.md)",
    404: "no such run in the workspace",
}


class RunHistory:
    """Run-history reads for the workspaces' pipelines; every answer is the value or `Unavailable`."""

    def __init__(
        self,
        credential: TokenCredential,
        arm: Arm,
        *,
        scopes: tuple[str, ...] = SCOPES,
        api_hosts: tuple[str, ...] = API_HOSTS,
        blob_hosts: tuple[str, ...] = BLOB_HOSTS,
        call_seconds: float = 10.0,
        blob_call_seconds: float = 15.0,
        retry_total: int = 2,
        clock: Callable[[], float] = time.monotonic,
        transport: Any = None,
    ) -> None:
        self._arm = arm
        self._clock = clock
        self._lock = threading.Lock()
        self._apis: dict[str, tuple[float, str | Unavailable]] = {}
        self._refusals: dict[str, tuple[float, Unavailable]] = {}
        self._discovery = JsonService(
            "Azure ML discovery",
            allowed_hosts=api_hosts,
            call_seconds=call_seconds,
            retry_total=retry_total,
            transport=transport,
        )
        self._http = JsonService(
            SERVICE,
            allowed_hosts=api_hosts,
            hints=_HINTS,
            transport=transport,
            auth_policy=scope_fallback_policy(credential, scopes),
            call_seconds=call_seconds,
            retry_total=retry_total,
        )
        self.blobs = LogBlobs(allowed_hosts=blob_hosts, call_seconds=blob_call_seconds, transport=transport)

    def children(
        self, workspace: Workspace, root_run_id: str, budget: Budget, *, max_pages: int = 20
    ) -> StepList | Unavailable:
        """Every child run of `root_run_id` (one level), in the service's order."""
        listing = self._call(
            workspace,
            budget,
            lambda base: self._http.get_pages(
                f"{base}/runs/{quote(root_run_id, safe='')}/children",
                budget,
                params={"api-version": API_VERSION},
                keep_params=("api-version",),
                max_pages=max_pages,
            ),
        )
        if isinstance(listing, Unavailable):
            return listing
        return StepList([StepRun.from_json(item) for item in listing.items], listing.complete)

    def run(self, workspace: Workspace, run_id: str, budget: Budget) -> StepRun | Unavailable:
        body = self._get_run(workspace, run_id, "", budget)
        return body if isinstance(body, Unavailable) else StepRun.from_json(body)

    def experiment_runs(
        self, workspace: Workspace, experiment_id: str, before: datetime, budget: Budget, *, top: int
    ) -> list[StepRun] | Unavailable:
        """The experiment's latest `top` runs created before `before`, newest first: one `runs:query` (POST,
        its query in the body; no paging). Steps of pipelines are runs of the same experiment too."""
        body = self._call(
            workspace,
            budget,
            lambda base: self._http.get_json(
                f"{base}/experimentids/{quote(experiment_id, safe='')}/runs:query",
                budget,
                params={"api-version": API_VERSION},
                post={
                    "filter": f"createdUtc lt {before.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
                    "orderBy": ["createdUtc desc"],
                    "top": top,
                },
            ),
        )
        if isinstance(body, Unavailable):
            return body
        return [StepRun.from_json(item) for item in body.get("value") or [] if isinstance(item, dict)]

    def details(self, workspace: Workspace, run_id: str, budget: Budget) -> RunDetails | Unavailable:
        body = self._get_run(workspace, run_id, "/details", budget)
        return body if isinstance(body, Unavailable) else RunDetails.from_json(body)

    def _get_run(self, workspace: Workspace, run_id: str, part: str, budget: Budget) -> Any:
        """GET `runs/{run_id}{part}`: the run's JSON body, or why it could not be read."""
        return self._call(
            workspace,
            budget,
            lambda base: self._http.get_json(
                f"{base}/runs/{quote(run_id, safe='')}{part}", budget, params={"api-version": API_VERSION}
            ),
        )

    def step_report(self, workspace: Workspace, step: StepRun, budget: Budget) -> StepReport:
        """The step with its full error and its log tail: best effort, what could not be read in `problems`."""
        details = self.details(workspace, step.run_id, budget)
        if isinstance(details, Unavailable):
            return StepReport(step, step.error, None, (details,))
        error = details.error or step.error
        name = details.log_file
        if name is None:
            return StepReport(step, error, None)
        tail = self.blobs.tail(name, details.log_files[name], budget)
        if isinstance(tail, Unavailable):
            return StepReport(step, error, None, (tail,))
        return StepReport(step, error, tail)

    def api_base(self, workspace: Workspace, budget: Budget) -> str | Unavailable:
        """`{api}/history/v1.0/subscriptions/.../workspaces/{ws}` for this workspace (cached 24 h)."""
        path = workspace_path(workspace)
        if path is None:
            return Unavailable(
                SERVICE,
                Failure.NOT_FOUND,
                f"{SERVICE}: workspace {workspace.name} has no known subscription and resource group",
            )
        key = path.lower()
        with self._lock:
            cached = self._apis.get(key)
        if cached is not None and cached[0] > self._clock():
            return f"{cached[1]}/history/v1.0{path}" if isinstance(cached[1], str) else cached[1]
        api = self._discover(workspace, budget)
        ttl = WORKSPACE_TTL if isinstance(api, str) else REFUSAL_TTL if api.needs_a_person else 0.0
        if ttl:
            with self._lock:
                self._apis[key] = (self._clock() + ttl, api)
        return f"{api}/history/v1.0{path}" if isinstance(api, str) else api

    def _discover(self, workspace: Workspace, budget: Budget) -> str | Unavailable:
        found = self._arm.workspace(workspace, budget)
        if isinstance(found, Unavailable):
            return found
        document = self._discovery.get_json(found.discovery_url, budget)
        if isinstance(document, Unavailable):
            return document
        api = document.get("api")
        if not isinstance(api, str) or not host_allowed(api, self._http.allowed_hosts):
            return Unavailable(
                SERVICE,
                Failure.REFUSED,
                f"{SERVICE}: the discovery document of {workspace.name} "
                "names no allowed https host for run history; not called",
            )
        return api.rstrip("/")

    def _call(self, workspace: Workspace, budget: Budget, call: Callable[[str], Any]) -> Any:
        """`call(base)` unless this workspace's run history refused the app lately; a 401/403 is remembered."""
        key = (workspace_path(workspace) or workspace.name).lower()
        with self._lock:
            refused = self._refusals.get(key)
        if refused is not None and refused[0] > self._clock():
            return refused[1]
        base = self.api_base(workspace, budget)
        if isinstance(base, Unavailable):
            return base
        answer = call(base)
        if isinstance(answer, Unavailable) and answer.failure in (Failure.UNAUTHORIZED, Failure.FORBIDDEN):
            log.warning("Run history of workspace %s not readable: %s", workspace.name, answer.reason)
            with self._lock:
                self._refusals[key] = (self._clock() + REFUSAL_TTL, answer)
        return answer


def scope_fallback_policy(credential: TokenCredential, scopes: tuple[str, ...]) -> Any:
    """A bearer-token policy that, when the service answers 401, tries the next scope (and keeps it)."""
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HTTPPolicy

    class ScopeFallbackPolicy(HTTPPolicy):
        def __init__(self) -> None:
            super().__init__()
            self._policies = [BearerTokenCredentialPolicy(credential, scope) for scope in scopes]
            self._current = 0

        def send(self, request: Any) -> Any:
            index = self._current
            while True:
                policy = self._policies[index]
                policy.next = self.next
                response = policy.send(request)
                if response.http_response.status_code != 401 or index + 1 == len(self._policies):
                    self._current = index if response.http_response.status_code != 401 else 0
                    return response
                index += 1
                log.info("Run history refused a token for %s; trying %s", scopes[index - 1], scopes[index])

    return ScopeFallbackPolicy()
