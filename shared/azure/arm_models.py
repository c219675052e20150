"""What the ARM answers for Azure ML say, as typed values: a workspace, a job, a schedule and its trigger.

Pure parsing, tolerant of absent and null fields (the service serialises some as null, some not at all).
Field meanings: `../shared/reference/aml-schedules/README.md` §1.1 and the bicep types of
`Microsoft.MachineLearningServices/workspaces/schedules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.azure.json_fields import as_mapping, as_text, parse_time


@dataclass(frozen=True)
class AmlWorkspace:
    resource_id: str
    name: str
    location: str
    workspace_id: str  # properties.workspaceId, a GUID
    discovery_url: str  # GET it (no token) for the run-history host, `api`

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AmlWorkspace:
        properties = as_mapping(body.get("properties"))
        return cls(
            as_text(body.get("id")),
            as_text(body.get("name")),
            as_text(body.get("location")),
            as_text(properties.get("workspaceId")),
            as_text(properties.get("discoveryUrl")),
        )


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
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # as ARM answered

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ArmJob:
        properties = as_mapping(body.get("properties"))
        system = as_mapping(body.get("systemData"))
        studio = as_mapping(as_mapping(properties.get("services")).get("Studio"))
        tags = {str(k): str(v) for k, v in as_mapping(properties.get("tags")).items()}
        return cls(
            as_text(body.get("name")),
            as_text(properties.get("displayName")),
            as_text(properties.get("experimentName")),
            as_text(properties.get("status")),
            as_text(properties.get("jobType")),
            parse_time(system.get("createdAt")),
            as_text(system.get("createdBy")),
            as_text(studio.get("endpoint")),
            properties.get("isArchived") is True,
            tags,
            body,
        )


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
        pattern = as_mapping(trigger.get("schedule"))

        def numbers(name: str) -> tuple[int, ...]:
            values = pattern.get(name)
            return tuple(v for v in values if isinstance(v, int)) if isinstance(values, list) else ()

        week_days = pattern.get("weekDays")
        interval = trigger.get("interval")
        return cls(
            kind=as_text(trigger.get("triggerType")),
            time_zone=as_text(trigger.get("timeZone")) or "UTC",
            start_time=trigger.get("startTime") or None,
            end_time=trigger.get("endTime") or None,
            expression=as_text(trigger.get("expression")),
            frequency=as_text(trigger.get("frequency")),
            interval=interval if isinstance(interval, int) else 0,
            hours=numbers("hours"),
            minutes=numbers("minutes"),
            month_days=numbers("monthDays"),
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
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # as ARM answered

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Schedule:
        properties = as_mapping(body.get("properties"))
        action = as_mapping(properties.get("action"))
        system = as_mapping(body.get("systemData"))
        name = as_text(body.get("name"))
        return cls(
            name=name,
            display_name=as_text(properties.get("displayName")) or name,
            is_enabled=properties.get("isEnabled") is True,
            provisioning_state=as_text(properties.get("provisioningState")),
            action_type=as_text(action.get("actionType")),
            trigger=Trigger.from_json(as_mapping(properties.get("trigger"))),
            experiment_name=as_text(as_mapping(action.get("jobDefinition")).get("experimentName")) or name,
            created_at=parse_time(system.get("createdAt")),
            last_modified_at=parse_time(system.get("lastModifiedAt")),
            description=as_text(properties.get("description")),
            body=body,
        )
