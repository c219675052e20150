"""The `schedules:` section of the rules file: how soon after a fire time a schedule's job must exist.

schedules:
  grace: PT30M        # a job must have been created within this after each expected fire time
  deadline: null      # optional: ... and have completed within this after it (e.g. PT6H)
  lookback: P1D       # fire times checked on every tick; also how long a state change is reported
  actions: [CreateJob]
  notify_state_changes: true   # one notice when a schedule is disabled, ends or fails provisioning
  overrides:          # first match wins; what it does not set comes from above
    - {schedule: "nightly-*", grace: PT1H, deadline: PT6H}
    - {workspace: ws-scratch, watch: false}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from shared.rules.parts import Strict, is_watched, iso_duration, pattern_matches

ActionType = Literal["CreateJob", "CreateMonitor", "InvokeBatchEndpoint"]
# Room between the longest wait and the lookback: the hour of slack at a DST change, and a few missed ticks.
_ROOM = timedelta(hours=2)


@dataclass(frozen=True)
class ScheduleLimits:
    grace: timedelta
    deadline: timedelta | None
    watched: bool = True


class ScheduleOverride(Strict):
    workspace: str | None = None  # Azure ML workspace name pattern (shell wildcards, any case)
    schedule: str | None = None  # schedule name pattern
    grace: timedelta | None = Field(default=None, gt=timedelta(0))
    deadline: timedelta | None = Field(default=None, gt=timedelta(0))  # `deadline: null` here: no deadline
    watch: bool = True  # false: never check these schedules

    @model_validator(mode="after")
    def _selects_something(self) -> ScheduleOverride:
        if self.workspace is None and self.schedule is None:
            raise ValueError("give workspace or schedule (or both)")
        return self

    def matches(self, workspace: str, schedule: str) -> bool:
        return pattern_matches(self.workspace, workspace) and pattern_matches(self.schedule, schedule)


class ScheduleRules(Strict):
    workspaces: tuple[str, ...] = ()  # Azure ML workspace name patterns; empty: every workspace
    actions: tuple[ActionType, ...] = Field(default=("CreateJob",), min_length=1)  # schedules of these actions
    grace: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))
    deadline: timedelta | None = Field(default=None, gt=timedelta(0))
    # At most 7 days, the shortest retention of the outbox: a notice is made only while its fire time or state
    # change is inside the lookback, so one whose record retention has removed is never made again.
    lookback: timedelta = Field(default=timedelta(days=1), ge=timedelta(hours=3), le=timedelta(days=7))
    notify_state_changes: bool = True
    overrides: tuple[ScheduleOverride, ...] = ()

    @model_validator(mode="after")
    def _waits_fit_the_lookback(self) -> ScheduleRules:
        for where, limits in [
            ("", self._limits(None)),
            *((f"overrides[{i}]: ", self._limits(o)) for i, o in enumerate(self.overrides)),
        ]:
            if limits.deadline is not None and limits.deadline <= limits.grace:
                raise ValueError(
                    f"{where}the deadline ({iso_duration(limits.deadline)}) must be longer than the "
                    f"grace ({iso_duration(limits.grace)}): a job is created before it completes"
                )
            longest = max(limits.grace, limits.deadline or limits.grace)
            if longest + _ROOM > self.lookback:
                raise ValueError(
                    f"{where}a wait of {iso_duration(longest)} needs a lookback of at least "
                    f"{iso_duration(longest + _ROOM)} (it is {iso_duration(self.lookback)}), or fire "
                    "times leave the window before they are judged"
                )
        return self

    def _limits(self, override: ScheduleOverride | None) -> ScheduleLimits:
        if override is None:
            return ScheduleLimits(self.grace, self.deadline)
        given = override.model_fields_set
        return ScheduleLimits(
            override.grace if override.grace is not None else self.grace,
            override.deadline if "deadline" in given else self.deadline,
            override.watch,
        )

    def limits_for(self, workspace: str, schedule: str) -> ScheduleLimits:
        """The first matching override over the defaults; a workspace not in `workspaces` is not watched."""
        if not is_watched(workspace, self.workspaces):
            return ScheduleLimits(self.grace, self.deadline, watched=False)
        return self._limits(next((o for o in self.overrides if o.matches(workspace, schedule)), None))
