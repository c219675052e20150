"""The ARM bodies the missed-schedule check reads: a workspace's Azure ML schedules, and the jobs they create.

Only the fields a verdict or an email needs; anything else in the body is ignored, so a newer api-version that
adds fields parses the same. Shapes: `Schedules - List` and `Jobs - List`, Microsoft.MachineLearningServices
2026-05-01 (the field names are the same since 2024-04-01); sources in docs/azure-ml-schedules.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


def _listed(value: Any) -> Any:
    return [] if value is None else value  # the service writes null, [] or nothing for "none"


def _title(value: Any) -> Any:
    return value.title() if isinstance(value, str) else value  # "week" (YAML, CLI) and "Week" (ARM)


class _Arm(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


Ints = Annotated[list[int], BeforeValidator(_listed)]
Frequency = Annotated[Literal["Minute", "Hour", "Day", "Week", "Month"], BeforeValidator(_title)]
WeekDay = Annotated[
    Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], BeforeValidator(_title)
]


class RecurrencePattern(_Arm):
    """Empty hours and minutes mean "no pattern": azure-ai-ml sends them empty because the REST model needs
    the object."""

    hours: Ints = []
    minutes: Ints = []
    week_days: Annotated[list[WeekDay], BeforeValidator(_listed)] = []
    month_days: Ints = []

    @property
    def is_empty(self) -> bool:
        return not (self.hours or self.minutes or self.week_days or self.month_days)


class _Trigger(_Arm):
    time_zone: str | None = None  # a Windows time zone id; absent: UTC
    start_time: str | None = None  # ISO 8601, usually without an offset: wall time in time_zone
    end_time: str | None = None


class CronTrigger(_Trigger):
    trigger_type: Literal["Cron"]
    expression: str


class RecurrenceTrigger(_Trigger):
    trigger_type: Literal["Recurrence"]
    frequency: Frequency
    interval: int = Field(ge=1)
    schedule: RecurrencePattern | None = None

    @property
    def pattern(self) -> RecurrencePattern | None:
        return None if self.schedule is None or self.schedule.is_empty else self.schedule


Trigger = Annotated[CronTrigger | RecurrenceTrigger, Field(discriminator="trigger_type")]


class JobDefinition(_Arm):
    job_type: str | None = None
    experiment_name: str | None = None


class ScheduleAction(_Arm):
    action_type: str  # CreateJob | CreateMonitor | InvokeBatchEndpoint
    job_definition: JobDefinition | None = None


class SystemData(_Arm):
    created_at: datetime | None = None
    created_by: str | None = None
    last_modified_at: datetime | None = None
    last_modified_by: str | None = None


class ScheduleProperties(_Arm):
    display_name: str | None = None
    description: str | None = None
    is_enabled: bool = True
    provisioning_state: str | None = None
    trigger: Trigger
    action: ScheduleAction


class Schedule(_Arm):
    id: str
    name: str
    properties: ScheduleProperties
    system_data: SystemData = SystemData()

    @property
    def experiment(self) -> str:
        """The experiment its jobs land in: the job definition's, else the schedule name (the documented default)."""
        definition = self.properties.action.job_definition
        return (definition.experiment_name if definition else None) or self.name

    @property
    def experiment_names(self) -> set[str]:
        """Either may hold its jobs: the definition may have been edited since (inference)."""
        return {self.name, self.experiment}


class JobProperties(_Arm):
    display_name: str | None = None
    experiment_name: str | None = None
    status: str | None = None
    tags: Annotated[dict[str, Any], BeforeValidator(lambda value: value or {})] = {}


class Job(_Arm):
    name: str
    properties: JobProperties = JobProperties()
    system_data: SystemData = SystemData()

    @property
    def created_at(self) -> datetime | None:
        return self.system_data.created_at


class UnreadableSchedule(ValueError):
    """A schedule body that does not have the documented shape (the message says where)."""

    def __init__(self, name: str, schedule_id: str, reason: str) -> None:
        super().__init__(f"schedule {name or '?'}: {reason}")
        self.name, self.schedule_id, self.reason = name, schedule_id, reason


def read_schedule(body: Mapping[str, Any]) -> Schedule:
    try:
        return Schedule.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UnreadableSchedule(
            str(body.get("name") or ""), str(body.get("id") or ""), f"{where}: {first['msg']}"
        ) from None


def read_jobs(bodies: Iterable[Mapping[str, Any]]) -> list[Job]:
    """Jobs with a name; a body without one cannot be matched or named, so it is skipped."""
    jobs = []
    for body in bodies:
        try:
            jobs.append(Job.model_validate(body))
        except ValidationError:
            continue
    return jobs
