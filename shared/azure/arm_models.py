"""What the ARM answers for Azure ML say, as typed values: a workspace, a job, a schedule and its trigger.

Pure parsing, tolerant of absent and null fields (the service serialises some as null, some not at all).
Field meanings: `../shared/reference/aml-schedules/README.md` §1.1 and the bicep types of
`Microsoft.MachineLearningServices/workspaces/schedules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string (`Z`, an offset, up to 7 fraction digits); naive means UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class AmlWorkspace:
    resource_id: str
    name: str
    location: str
    workspace_id: str  # properties.workspaceId, a GUID
    discovery_url: str  # GET it (no token) for the run-history host, `api`

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AmlWorkspace:
        properties = _dict(body.get("properties"))
        return cls(_text(body.get("id")), _text(body.get("name")), _text(body.get("location")),
                   _text(properties.get("workspaceId")), _text(properties.get("discoveryUrl")))


@dataclass(frozen=True)
class ArmJob:
    """A job as ARM lists it (a pipeline run: its name is the root run id)."""

    name: str
    display_name: str
    experiment_name: str
    status: str
    job_type: str
    created_at: datetime | None
    created_by: str = ""
    studio_url: str = ""
    is_archived: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ArmJob:
        properties = _dict(body.get("properties"))
        system = _dict(body.get("systemData"))
        studio = _dict(_dict(properties.get("services")).get("Studio"))
        tags = {str(k): str(v) for k, v in _dict(properties.get("tags")).items()}
        return cls(_text(body.get("name")), _text(properties.get("displayName")),
                   _text(properties.get("experimentName")), _text(properties.get("status")),
                   _text(properties.get("jobType")), parse_time(system.get("createdAt")),
                   _text(system.get("createdBy")), _text(studio.get("endpoint")),
                   properties.get("isArchived") is True, tags)


@dataclass(frozen=True)
class JobList:
    jobs: list[ArmJob]
    complete: bool  # False: paging stopped with more pages left (older jobs, or the page cap)


@dataclass(frozen=True)
class Trigger:
    """A schedule's trigger as stored: times without an offset are wall times in `time_zone` (a Windows id)."""

    kind: str  # Cron | Recurrence
    time_zone: str  # absent or null means UTC
    start_time: str | None
    end_time: str | None
    expression: str = ""  # Cron: five fields; AML ignores day-of-month and month
    frequency: str = ""  # Recurrence: Minute | Hour | Day | Week | Month
    interval: int = 0
    hours: tuple[int, ...] = ()  # Recurrence pattern; all empty: no pattern
    minutes: tuple[int, ...] = ()
    week_days: tuple[str, ...] = ()
    month_days: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, trigger: Mapping[str, Any]) -> Trigger:
        pattern = _dict(trigger.get("schedule"))

        def numbers(name: str) -> tuple[int, ...]:
            values = pattern.get(name)
            return tuple(v for v in values if isinstance(v, int)) if isinstance(values, list) else ()

        week_days = pattern.get("weekDays")
        interval = trigger.get("interval")
        return cls(
            kind=_text(trigger.get("triggerType")), time_zone=_text(trigger.get("timeZone")) or "UTC",
            start_time=trigger.get("startTime") or None, end_time=trigger.get("endTime") or None,
            expression=_text(trigger.get("expression")), frequency=_text(trigger.get("frequency")),
            interval=interval if isinstance(interval, int) else 0, hours=numbers("hours"),
            minutes=numbers("minutes"), month_days=numbers("monthDays"),
            week_days=tuple(str(d) for d in week_days) if isinstance(week_days, list) else (),
        )


@dataclass(frozen=True)
class Schedule:
    name: str
    display_name: str
    is_enabled: bool
    provisioning_state: str
    action_type: str  # CreateJob (a pipeline job), CreateMonitor, InvokeBatchEndpoint
    trigger: Trigger
    experiment_name: str  # the job definition's; the service defaults it to the schedule's name
    created_at: datetime | None
    last_modified_at: datetime | None
    description: str = ""

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Schedule:
        properties = _dict(body.get("properties"))
        action = _dict(properties.get("action"))
        system = _dict(body.get("systemData"))
        name = _text(body.get("name"))
        return cls(
            name=name, display_name=_text(properties.get("displayName")) or name,
            is_enabled=properties.get("isEnabled") is True,
            provisioning_state=_text(properties.get("provisioningState")),
            action_type=_text(action.get("actionType")), trigger=Trigger.from_json(_dict(properties.get("trigger"))),
            experiment_name=_text(_dict(action.get("jobDefinition")).get("experimentName")) or name,
            created_at=parse_time(system.get("createdAt")), last_modified_at=parse_time(system.get("lastModifiedAt")),
            description=_text(properties.get("description")),
        )
