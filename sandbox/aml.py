"""The Azure ML side of the sandbox: workspaces (as ARM knows them), their pipeline runs (run history and ARM
jobs), their schedules, and the log blobs run history links to.

State only; what the services answer is rendered by `arm.py`, `run_history.py` and `blob_logs.py`, and routed
by `aml_routes.py`. A pipeline run is added once (`sandbox.pipeline_runs.PipelineRun`); run history shows it as
of the sandbox clock.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .aml_rows import RESOURCE_GROUP, SUBSCRIPTION
from .errors import ServiceError
from .metrics import DEFAULT_REGION
from .pipeline_runs import PipelineRun, Step

_NAMESPACE = uuid.UUID("6f1c2a9e-0000-4000-8000-00000000a0a0")


def stable_guid(*parts: str) -> str:
    """The same GUID for the same names, every run (workspace ids, run uuids, experiment ids)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts).lower()))


@dataclass(frozen=True)
class AmlWorkspace:
    name: str
    subscription: str
    resource_group: str
    region: str

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def workspace_id(self) -> str:
        return stable_guid("workspace", self.subscription, self.resource_group, self.name)

    @property
    def storage_account(self) -> str:
        """The workspace's default storage account (its logs live there): lower-case letters and digits."""
        return ("".join(c for c in self.name.lower() if c.isalnum()) + "storage")[:21] + "001"

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )

    def is_at(self, subscription: str, resource_group: str) -> bool:
        return (
            subscription.lower() == self.subscription.lower() and resource_group.lower() == self.resource_group.lower()
        )


class AzureMl:
    """Workspaces, pipeline runs and schedules; thread-safe (the server answers from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workspaces: dict[str, AmlWorkspace] = {}
        self._pipelines: dict[str, list[PipelineRun]] = {}
        self._runs: dict[tuple[str, str], tuple[PipelineRun, Step | None]] = {}
        self._schedules: dict[str, list[dict[str, Any]]] = {}
        self._requests: list[dict[str, Any]] = []
        self.signing_key = secrets.token_bytes(32)  # signs the log blobs' SAS URLs
        self.page_size = 3  # children, schedules and jobs per page: small, so clients page
        self.retired_api_versions: set[str] = set()  # ARM answers 400 NoRegisteredProviderFound to these

    def add_workspace(
        self,
        name: str,
        *,
        region: str = DEFAULT_REGION,
        subscription: str = SUBSCRIPTION,
        resource_group: str = RESOURCE_GROUP,
    ) -> AmlWorkspace:
        workspace = AmlWorkspace(name, subscription, resource_group, region)
        with self._lock:
            self._workspaces[workspace.key] = workspace
        return workspace

    def ensure_workspace(self, name: str) -> AmlWorkspace:
        """The workspace of this name, added in the scenarios' subscription and resource group if not known."""
        with self._lock:
            return self._workspaces.setdefault(
                name.lower(), AmlWorkspace(name, SUBSCRIPTION, RESOURCE_GROUP, DEFAULT_REGION)
            )

    def add_pipeline(self, run: PipelineRun) -> None:
        """The run (and its workspace, see `ensure_workspace`)."""
        self.ensure_workspace(run.workspace)
        with self._lock:
            key = run.workspace.lower()
            self._pipelines.setdefault(key, []).append(run)
            self._runs[(key, run.run_id.lower())] = (run, None)
            for step in run.steps:
                self._runs[(key, step.run_id.lower())] = (run, step)

    def add_schedule(self, workspace: AmlWorkspace, body: dict[str, Any]) -> None:
        """A schedule resource (`arm.schedule_body` builds one); replaces one of the same name."""
        with self._lock:
            key = workspace.key
            kept = [s for s in self._schedules.get(key, []) if s["name"].lower() != body["name"].lower()]
            self._schedules[key] = [*kept, body]

    def workspace(self, subscription: str, resource_group: str, name: str) -> AmlWorkspace:
        """The workspace at this ARM path, or ARM's 404."""
        with self._lock:
            found = self._workspaces.get(name.lower())
        if found is None or not found.is_at(subscription, resource_group):
            raise ServiceError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/"
                f"{name}' under resource group '{resource_group}' was not found. For more details "
                "please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return found

    def workspace_by_account(self, account: str) -> AmlWorkspace | None:
        with self._lock:
            return next((w for w in self._workspaces.values() if w.storage_account == account.lower()), None)

    def find_run(self, workspace: AmlWorkspace, run_id: str, now: datetime) -> tuple[PipelineRun, Step | None] | None:
        """A pipeline run or one of its steps, if it exists by `now`."""
        with self._lock:
            found = self._runs.get((workspace.key, run_id.lower()))
        if found is None or (found[1] or found[0]).created > now:
            return None
        return found

    def pipelines(self, workspace: AmlWorkspace, now: datetime) -> list[PipelineRun]:
        """The workspace's pipeline runs that exist by `now`, newest first."""
        with self._lock:
            runs = list(self._pipelines.get(workspace.key, []))
        return sorted((r for r in runs if r.created <= now), key=lambda r: r.created, reverse=True)

    def schedules(self, workspace: AmlWorkspace) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._schedules.get(workspace.key, []))

    def record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request to the Azure ML services: service, method, path (no query), workspace, whether it carried
        an Authorization header, its range."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._workspaces.clear()
            self._pipelines.clear()
            self._runs.clear()
            self._schedules.clear()
            self._requests.clear()
            self.retired_api_versions.clear()
