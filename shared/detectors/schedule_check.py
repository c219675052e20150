"""Missed schedules as a periodic check: its inputs, its detector, its view and its spec (the registry's line).

Its source (shared/scans/sources/schedules.py) reads, per Azure ML workspace, the schedules from ARM, plans each
(`ScheduleDetector.plan`: which fire times to check) and lists the jobs those need; `detect` judges each fire time
(schedules.py). One notice per missed fire time, and one per state change (disabled, ended, provisioning
failed): their keys name the fire time or the change, so the outbox records each once however many ticks see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from shared.core.azure_ml import Workspace, studio_run_url
from shared.core.text import utc_text
from shared.detectors.base import DetectorSpec, Findings, Shape, ViewOptions
from shared.detectors.schedule_plan import SchedulePlan, State, plan_schedule
from shared.detectors.schedules import KIND, check_schedule
from shared.rules.schedules import ScheduleRules

if TYPE_CHECKING:
    from shared.rules import Rules
    from shared.settings import Settings

SCAN = "schedules"
# States that make a notice and name the last job the schedule created.
STATES_WITH_NOTICE = (State.DISABLED, State.ENDED, State.PROVISIONING_FAILED)


@dataclass(frozen=True)
class ScheduleJobs:
    """One schedule's plan and the jobs listed for it."""

    plan: SchedulePlan
    jobs: Sequence[Mapping[str, Any]] = ()  # ARM job bodies
    filtered_by_schedule: bool = False  # the jobs are the schedule's own (the preview `scheduleId` filter)
    listed_since: datetime | None = None  # a listing that stopped early reached back only this far


@dataclass(frozen=True)
class ScheduleDetector:
    rules: ScheduleRules
    scan: ClassVar[str] = SCAN

    @property
    def lookback(self) -> timedelta:
        return self.rules.lookback

    def plan(self, body: Mapping[str, Any], now: datetime) -> SchedulePlan:
        return plan_schedule(body, self.rules, now)

    def needs_jobs(self, plan: SchedulePlan) -> bool:
        return bool(plan.fire_times) or (self.rules.notify_state_changes and plan.state in STATES_WITH_NOTICE)

    def detect(self, inputs: Sequence[ScheduleJobs], now: datetime) -> Findings:
        notices = [
            notice
            for item in inputs
            for notice in check_schedule(
                item.plan,
                item.jobs,
                self.rules,
                now,
                jobs_filtered_by_schedule=item.filtered_by_schedule,
                jobs_listed_since=item.listed_since,
            ).notices
        ]
        return Findings(notices)


_HEADLINES = {
    "missed": "did not run",
    "overdue": "has not completed",
    "disabled": "was disabled",
    "ended": "has ended",
    "provisioning-failed": "failed provisioning",
    "unevaluable": "cannot be checked",
}


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    """The notice with the expected time in the schedule's zone and UTC, and the last job it created."""
    workspace = Workspace(payload["workspace"], payload.get("subscription_id", ""), payload.get("resource_group", ""))
    notice = payload["notice"]
    expected_utc, expected_local = _moment(payload.get("expected_utc")), _moment(payload.get("expected_local"))
    last_job = payload.get("last_job")
    when = f" at {expected_local:%Y-%m-%d %H:%M} {payload.get('time_zone', 'UTC')}" if expected_local else ""
    subject = f"[AML] Schedule {payload['schedule']} in {workspace.name} {_HEADLINES.get(notice, notice)}{when}"
    return {
        "subject": subject,
        "notice": notice,
        "headline": _HEADLINES.get(notice, notice),
        "payload": payload,
        "workspace": workspace,
        "expected_utc": utc_text(expected_utc) if expected_utc else "",
        "expected_local": f"{expected_local:%Y-%m-%d %H:%M} ({payload.get('time_zone', 'UTC')})"
        if expected_local
        else "",
        "state_since": utc_text(since) if (since := _moment(payload.get("state_since"))) else "unknown",
        "last_job": last_job,
        "last_job_created": utc_text(created) if last_job and (created := _moment(last_job.get("created_at"))) else "",
        "last_job_url": studio_run_url(workspace, last_job["name"], options.studio_tenant_id) if last_job else None,
        "job": payload.get("job"),
    }


def build(rules: Rules, settings: Settings) -> ScheduleDetector:
    return ScheduleDetector(rules.schedules)


SPEC = DetectorSpec(
    kind=KIND,
    title="missed schedules",
    shape=Shape.PERIODIC,
    view=view,
    templates="missed_schedule",
    scan=SCAN,
    function="scan_schedules",
    schedule_setting="SCHEDULES_SCHEDULE",
    rules_section="schedules",
    build=build,
    source="aml-schedules",
)
