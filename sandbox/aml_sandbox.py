"""The Sandbox's Azure ML methods (a mixin of `emulator.Sandbox`): seed pipeline runs and schedules, arm faults,
and tell clients where the services are. The `/_sandbox/` control API maps onto the same methods."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter

from . import arm
from .aml import AmlWorkspace, AzureMl
from .faults import Faults
from .log_analytics import DEFAULT_WORKSPACE_ID
from .pipeline_runs import PipelineRun
from .timeutil import parse_datetime


class AzureMlSandbox:
    aml: AzureMl
    faults: Faults

    if TYPE_CHECKING:

        @property
        def now(self) -> datetime: ...

        @property
        def endpoint(self) -> str: ...

        def add_tables(self, tables: dict[str, list[dict[str, Any]]], workspace_id: str = ...) -> None: ...

    def add_pipeline(self, run: PipelineRun | dict[str, Any], workspace_id: str = DEFAULT_WORKSPACE_ID) -> PipelineRun:
        """A pipeline run everywhere at once: its rows in Log Analytics workspace `workspace_id` (each visible
        `ingest_delay` after it happened) and the run in its Azure ML workspace's run history and ARM jobs (as of
        the sandbox clock). A dict is read as the model's JSON form (the control API's body)."""
        if isinstance(run, dict):
            run = TypeAdapter(PipelineRun).validate_python(run)
        self.add_tables(run.tables(), workspace_id)
        self.aml.add_pipeline(run)
        return run

    def add_pipeline_runs(self, runs: list[PipelineRun]) -> None:
        """Runs whose Log Analytics rows are seeded separately (the simulation adds its own ingestion delays)."""
        for run in runs:
            self.aml.add_pipeline(run)

    def add_aml_workspace(self, name: str, **where: str) -> AmlWorkspace:
        """An Azure ML workspace (`region`, `subscription`, `resource_group`); a pipeline's workspace is added
        with the scenarios' subscription and resource group when it is not known."""
        return self.aml.add_workspace(name, **where)

    def add_schedule(
        self,
        workspace: str,
        name: str,
        trigger: dict[str, Any],
        *,
        created_at: datetime | str | None = None,
        modified_at: datetime | str | None = None,
        **options: Any,
    ) -> None:
        """A schedule of the workspace (`arm.cron_trigger` / `arm.recurrence_trigger` build triggers; options:
        enabled, action_type, experiment, description, created_by, provisioning_state). It exists from
        `created_at` (default: now)."""
        ws = self.aml.ensure_workspace(workspace)
        created = parse_datetime(created_at) if created_at else self.now
        modified = parse_datetime(modified_at) if modified_at else None
        self.aml.add_schedule(
            ws, arm.schedule_body(ws, name, trigger, created_at=created, modified_at=modified, **options)
        )

    def fail_service(
        self,
        service: str,
        status: int,
        *,
        workspace: str | None = None,
        count: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answers of an Azure ML service (arm, discovery, runhistory, blob), for one Azure ML workspace or all,
        are *status* (401, 403, 404, 429, 5xx; with `Retry-After`): the next *count*, or all until healed."""
        self.faults.fail_service(service, status, workspace=workspace, count=count, retry_after=retry_after)

    def slow_service(
        self, service: str, seconds: float, *, workspace: str | None = None, count: int | None = None
    ) -> None:
        """Answers of an Azure ML service come *seconds* late (wall time): the next *count*, or all until healed."""
        self.faults.fail_service(service, None, workspace=workspace, count=count, delay=seconds)

    def heal_service(self, service: str, workspace: str | None = None) -> None:
        self.faults.heal_service(service, workspace)

    def refuse_audience(self, service: str, audience: str) -> None:
        """ARM or run history answers 401 to tokens issued for *audience* (a JWT's `aud`)."""
        self.faults.refuse_audience(service, audience)

    def retire_api_version(self, version: str) -> None:
        """ARM answers 400 NoRegisteredProviderFound to this api-version (e.g. a preview that was retired)."""
        self.aml.retired_api_versions.add(version)

    def aml_client_options(self) -> dict[str, Any]:
        """What the Azure ML clients need to talk to the sandbox instead of Azure: the ARM endpoint and the hosts
        that stand for `*.api.azureml.ms` and `*.blob.core.windows.net`."""
        host = urlsplit(self.endpoint).netloc
        return {"endpoint": self.endpoint, "api_hosts": (host,), "blob_hosts": (host,)}
