"""Missed schedules, step one: a schedule's state at `now` and the fire times it was expected to have (pure).

    active / ended        fire times in [now - lookback, now), not before its start, creation or last change
                          (an edit or a re-enable starts it afresh), and before its end
    disabled, provisioning-failed, unevaluable, not-started, provisioning, not-watched: none expected

docs/azure-ml-schedules.md has the facts behind each state and their sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from shared.core.azure_ml import Workspace
from shared.detectors.schedule_model import Schedule, UnreadableSchedule, read_schedule
from shared.detectors.schedule_times import Unevaluable, aml_cron, fire_times, schedule_moment, schedule_zone
from shared.rules.schedules import ScheduleLimits, ScheduleRules

DST_SLACK = timedelta(hours=1)  # either side of a fire time near a DST change


class State(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"  # endTime has passed; fire times before it are still checked
    NOT_STARTED = "not-started"
    DISABLED = "disabled"
    PROVISIONING = "provisioning"  # Creating/Updating/Deleting: not checked until it settles
    PROVISIONING_FAILED = "provisioning-failed"
    UNEVALUABLE = "unevaluable"
    NOT_WATCHED = "not-watched"  # the rules leave it out, or its action is not watched


@dataclass(frozen=True)
class SchedulePlan:
    name: str
    schedule_id: str
    workspace: Workspace
    state: State
    limits: ScheduleLimits
    schedule: Schedule | None = None  # None when the body could not be read
    zone: ZoneInfo | None = None
    fire_times: tuple[datetime, ...] = ()  # expected in the lookback, UTC, sorted
    state_since: datetime | None = None
    reason: str = ""  # why it cannot be evaluated

    @property
    def jobs_since(self) -> datetime | None:
        """The oldest creation time a job matching a fire time can have: how far back to list jobs."""
        return self.fire_times[0] - DST_SLACK if self.fire_times else None


def plan_schedule(body: Mapping[str, Any], rules: ScheduleRules, now: datetime) -> SchedulePlan:
    """The schedule's state at `now` and the fire times to check: those in [now - lookback, now), not before
    its start, creation or last change (an edit or a re-enable starts it afresh), and before its end."""
    try:
        schedule = read_schedule(body)
    except UnreadableSchedule as err:
        workspace = Workspace.from_resource_id(err.schedule_id)
        limits = rules.limits_for(workspace.name, err.name)
        return SchedulePlan(
            err.name,
            err.schedule_id,
            workspace,
            State.UNEVALUABLE if limits.watched else State.NOT_WATCHED,
            limits,
            reason=err.reason,
        )
    workspace = Workspace.from_resource_id(schedule.id)
    limits = rules.limits_for(workspace.name, schedule.name)
    plan = SchedulePlan(
        schedule.name,
        schedule.id,
        workspace,
        State.ACTIVE,
        limits,
        schedule,
        state_since=schedule.system_data.last_modified_at,
    )
    settled = _settled_state(schedule, rules, limits)
    if settled is not None:
        return _with(plan, settled)
    try:
        return _timed_plan(plan, schedule, rules, now)
    except Unevaluable as err:
        return _with(plan, State.UNEVALUABLE, reason=str(err))


def _settled_state(schedule: Schedule, rules: ScheduleRules, limits: ScheduleLimits) -> State | None:
    """A state that expects no fire times, whatever the trigger says; None: evaluate the trigger."""
    properties = schedule.properties
    provisioning = (properties.provisioning_state or "Succeeded").lower()
    if not limits.watched or properties.action.action_type not in rules.actions:
        return State.NOT_WATCHED
    if provisioning in ("failed", "canceled"):
        return State.PROVISIONING_FAILED
    if provisioning != "succeeded":
        return State.PROVISIONING
    return None if properties.is_enabled else State.DISABLED


def _timed_plan(plan: SchedulePlan, schedule: Schedule, rules: ScheduleRules, now: datetime) -> SchedulePlan:
    trigger, system = schedule.properties.trigger, schedule.system_data
    zone = schedule_zone(trigger.time_zone)
    start, end = schedule_moment(trigger.start_time, zone), schedule_moment(trigger.end_time, zone)
    if trigger.trigger_type == "Cron":
        aml_cron(trigger.expression)
    elif start is None and system.created_at is None:
        raise Unevaluable("neither a start time nor a creation time to count its recurrence from")
    if start is not None and start > now:
        return _with(plan, State.NOT_STARTED, zone=zone)
    floor = max(
        moment
        for moment in (start, system.created_at, system.last_modified_at, now - rules.lookback)
        if moment is not None
    )
    ended = end is not None and end <= now
    times = fire_times(trigger, floor, min(now, end) if end else now, anchor=start or system.created_at or floor)
    return _with(
        plan,
        State.ENDED if ended else State.ACTIVE,
        zone=zone,
        fire_times=tuple(times),
        state_since=end if ended else plan.state_since,
    )


def _with(plan: SchedulePlan, state: State, **changes: Any) -> SchedulePlan:
    return replace(plan, state=state, **changes)
