"""The missed-schedule check's inputs for one Azure ML workspace (its ARM resource id): every schedule, planned,
and the jobs of those that need them. Jobs come from the preview listing filtered by schedule when the service
offers it, else from one listing of the workspace's pipeline jobs (docs/azure-ml-schedules.md says why). A
schedule listing or a job listing that cannot be read fails the workspace for this tick: judging a fire time
without its jobs would report a miss that is not one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.azure.failures import Failure, Unavailable
from shared.core.azure_ml import Workspace
from shared.detectors.schedule_check import ScheduleDetector, ScheduleJobs
from shared.detectors.schedule_plan import DST_SLACK, SchedulePlan
from shared.scans.sources.base import Gathered, SourceDeps

if TYPE_CHECKING:
    from shared.azure.arm_models import JobList
    from shared.core.budget import Budget


@dataclass
class _WorkspaceJobs:
    """The workspace's pipeline jobs, listed once per tick when the filtered listing is not offered."""

    listing: JobList | Unavailable | None = None


class ScheduleSource:
    def __init__(self, deps: SourceDeps) -> None:
        self._deps = deps

    @property
    def units(self) -> tuple[str, ...]:
        return self._deps.settings.aml_workspace_ids

    def gather(self, detector: ScheduleDetector, unit: str, now: datetime, budget: Budget) -> Gathered:
        workspace = Workspace.from_resource_id(unit)
        schedules = self._deps.arm.schedules(workspace, budget)
        if isinstance(schedules, Unavailable):
            return Gathered(error=schedules.reason)
        plans = [detector.plan(schedule.body, now) for schedule in schedules]
        since = now - detector.lookback - DST_SLACK
        shared = _WorkspaceJobs()
        items = []
        for plan in plans:
            item = self._jobs_of(workspace, plan, since, shared, budget) if detector.needs_jobs(plan) else None
            if isinstance(item, Unavailable):
                return Gathered(error=f"jobs of schedule {plan.name}: {item.reason}", rows=len(schedules))
            items.append(item or ScheduleJobs(plan))
        return Gathered(items, rows=len(schedules))

    def _jobs_of(
        self, workspace: Workspace, plan: SchedulePlan, since: datetime, shared: _WorkspaceJobs, budget: Budget
    ) -> ScheduleJobs | Unavailable:
        arm = self._deps.arm
        own = arm.jobs_by_schedule(workspace, plan.name, budget)
        if not (isinstance(own, Unavailable) and own.failure == Failure.UNSUPPORTED):
            return own if isinstance(own, Unavailable) else _listed(plan, own, filtered=True)
        if shared.listing is None:
            shared.listing = arm.pipeline_jobs(workspace, budget, created_since=since)
        listing = shared.listing
        return listing if isinstance(listing, Unavailable) else _listed(plan, listing, filtered=False)


def _listed(plan: SchedulePlan, listing: JobList, *, filtered: bool) -> ScheduleJobs:
    created = [job.created_at for job in listing.jobs if job.created_at is not None]
    listed_since = min(created) if created and not listing.complete else None
    return ScheduleJobs(plan, [job.body for job in listing.jobs], filtered, listed_since)
