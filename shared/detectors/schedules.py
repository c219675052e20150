"""Missed schedules: for each expected fire time of an Azure ML schedule, did a job come, and the notices (pure).

    plan_schedule(body, rules, now)          the schedule's state and expected fire times (schedule_plan.py)
    check_schedule(plan, jobs, rules, now)   the jobs matched to fire times, a verdict per fire time, the notices

A verdict per fire time F (at `now`):
    ran       a job of the schedule was created for F (any status: a failed run is the failure alert's business)
    late      ... but after F + grace (only a job named with F's stamp can be matched that late)
    overdue   a job came, but `deadline` after F it has not completed
    missed    no job, and F + grace has passed                    -> one notice per missed F
    not-due   no job yet, F + grace has not passed
    unknown   no job, but the jobs given do not reach back to F's window (a capped listing): not judged

A schedule that is disabled, has ended or failed provisioning is not expected to fire any more: it gets one
notice, keyed by the state and when it changed (so a later change is news again), made while that change is
inside the lookback; one that cannot be evaluated (unknown time zone, cron outside the dialect) gets one notice
per version of it. How jobs are recognised, and why: docs/azure-ml-schedules.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.detectors.base import Detected
from shared.detectors.schedule_model import Job, Schedule, read_jobs
from shared.detectors.schedule_plan import DST_SLACK, SchedulePlan, State
from shared.detectors.schedule_times import near_offset_change
from shared.rules.schedules import ScheduleRules

KIND = "missed-schedule"
STAMP = "%Y%m%dT%H%M%SZ"  # the documented display name of a scheduled job: <schedule>-<F in UTC, this format>
EARLY = timedelta(minutes=5)  # a job created this long before F still counts (clocks differ)
# Seen in one third-party script, not in any Microsoft source: a positive signal when present, never required.
SCHEDULE_TAG = "azureml.scheduleTrigger.scheduleName"
_STATES_NOTIFIED = (State.DISABLED, State.ENDED, State.PROVISIONING_FAILED, State.UNEVALUABLE)


class Outcome(StrEnum):
    RAN = "ran"
    LATE = "late"
    OVERDUE = "overdue"
    MISSED = "missed"
    NOT_DUE = "not-due"
    UNKNOWN = "unknown"  # the job listing did not reach back far enough to tell


@dataclass(frozen=True)
class FireVerdict:
    at: datetime
    outcome: Outcome
    job: Job | None = None


@dataclass(frozen=True)
class ScheduleReport:
    plan: SchedulePlan
    verdicts: tuple[FireVerdict, ...] = ()
    last_job: Job | None = None
    notices: tuple[Detected, ...] = ()


def check_schedule(
    plan: SchedulePlan,
    jobs: Iterable[Mapping[str, Any]],
    rules: ScheduleRules,
    now: datetime,
    *,
    jobs_filtered_by_schedule: bool = False,
    jobs_listed_since: datetime | None = None,
) -> ScheduleReport:
    """`jobs`: ARM job bodies, either the schedule's own (the preview `scheduleId` filter:
    `jobs_filtered_by_schedule=True`) or the workspace's pipeline jobs (stable listing), created since
    `plan.jobs_since`. `jobs_listed_since`: how far back a listing that stopped early (a page cap) reached; a
    fire time whose window starts before it is `unknown`, not `missed`."""
    schedule = plan.schedule
    own = [job for job in read_jobs(jobs) if schedule and _belongs(job, schedule, jobs_filtered_by_schedule)]
    last_job = max((job for job in own if job.created_at), key=lambda job: job.created_at or now, default=None)
    matched = _match(plan, own)
    verdicts = tuple(_verdict(plan, at, matched.get(at), now, jobs_listed_since) for at in plan.fire_times)
    report = ScheduleReport(plan, verdicts, last_job)
    return ScheduleReport(plan, verdicts, last_job, tuple(_notices(report, rules, now)))


def _belongs(job: Job, schedule: Schedule, filtered: bool) -> bool:
    properties = job.properties
    return (
        filtered
        or properties.tags.get(SCHEDULE_TAG) == schedule.name
        or (properties.display_name or "").startswith(f"{schedule.name}-")
        or properties.experiment_name in schedule.experiment_names
    )


def _stamp(job: Job, name: str) -> datetime | None:
    """The fire time in a display name `<schedule>-YYYYMMDDThhmmssZ`, if it is one."""
    display = job.properties.display_name or ""
    if len(display) != len(name) + 17 or not display.startswith(f"{name}-"):
        return None
    try:
        return datetime.strptime(display[-16:], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _window(plan: SchedulePlan, at: datetime) -> tuple[datetime, datetime]:
    """When a job for `at` may be created: [at - 5 min, at + grace], widened by an hour near a DST change."""
    slack = DST_SLACK if plan.zone is not None and near_offset_change(at, plan.zone) else timedelta(0)
    return at - max(EARLY, slack), at + plan.limits.grace + slack


def _match(plan: SchedulePlan, jobs: list[Job]) -> dict[datetime, Job]:
    """A job named with a fire time's stamp is that fire time's; the others go, earliest first, to the fire
    times whose window holds their creation time. Each job satisfies one fire time at most."""
    expected = set(plan.fire_times)
    created = sorted(
        ((job.created_at, job) for job in jobs if job.created_at is not None), key=lambda pair: (pair[0], pair[1].name)
    )
    matched: dict[datetime, Job] = {}
    for _, job in created:
        stamp = _stamp(job, plan.name)
        if stamp is not None and stamp in expected and stamp not in matched:
            matched[stamp] = job
    used = {job.name for job in matched.values()}
    for at in plan.fire_times:
        if at in matched:
            continue
        low, high = _window(plan, at)
        found = next(
            (
                job
                for when, job in created
                if job.name not in used and low <= when <= high and _stamp(job, plan.name) not in expected
            ),
            None,
        )
        if found is not None:
            matched[at] = found
            used.add(found.name)
    return matched


def _verdict(
    plan: SchedulePlan, at: datetime, job: Job | None, now: datetime, listed_since: datetime | None
) -> FireVerdict:
    earliest, latest = _window(plan, at)
    if job is None:
        if now < latest:
            return FireVerdict(at, Outcome.NOT_DUE)
        return FireVerdict(at, Outcome.UNKNOWN if listed_since and earliest < listed_since else Outcome.MISSED)
    deadline = plan.limits.deadline
    if deadline is not None and now >= at + deadline and (job.properties.status or "").lower() != "completed":
        return FireVerdict(at, Outcome.OVERDUE, job)
    late = job.created_at is not None and job.created_at > latest
    return FireVerdict(at, Outcome.LATE if late else Outcome.RAN, job)


def _notices(report: ScheduleReport, rules: ScheduleRules, now: datetime) -> list[Detected]:
    plan = report.plan
    base = f"{KIND}:{(plan.schedule_id or plan.name).lower()}"
    notices = []
    for verdict in report.verdicts:
        stamp = verdict.at.strftime(STAMP)
        if verdict.outcome is Outcome.MISSED:
            notices.append(
                _detected(
                    report, f"{base}:{stamp}", "missed", _window(plan, verdict.at)[1], **_expected(plan, verdict.at)
                )
            )
        elif verdict.outcome is Outcome.OVERDUE and plan.limits.deadline is not None:
            notices.append(
                _detected(
                    report,
                    f"{base}:{stamp}:overdue",
                    "overdue",
                    verdict.at + plan.limits.deadline,
                    **_expected(plan, verdict.at),
                    job=_job_facts(verdict.job),
                )
            )
    since = plan.state_since
    recent = since is not None and now - rules.lookback <= since <= now
    if rules.notify_state_changes and plan.state in _STATES_NOTIFIED and (recent or plan.state is State.UNEVALUABLE):
        changed = since.isoformat() if since else "unknown"
        notices.append(
            _detected(report, f"{base}:{plan.state}:{changed}", plan.state.value, since or now, reason=plan.reason)
        )
    return notices


def _expected(plan: SchedulePlan, at: datetime) -> dict[str, Any]:
    local = at.astimezone(plan.zone) if plan.zone else at
    return {
        "expected_utc": at.isoformat(),
        "expected_local": local.isoformat(),
        "near_dst_change": plan.zone is not None and near_offset_change(at, plan.zone),
    }


def _job_facts(job: Job | None) -> dict[str, Any] | None:
    if job is None:
        return None
    created = job.created_at.isoformat() if job.created_at else None
    return {
        "name": job.name,
        "display_name": job.properties.display_name or "",
        "status": job.properties.status or "",
        "experiment": job.properties.experiment_name or "",
        "created_at": created,
    }


def _detected(report: ScheduleReport, key: str, notice: str, due_at: datetime, **extra: Any) -> Detected:
    plan, schedule = report.plan, report.plan.schedule
    trigger = schedule.properties.trigger if schedule else None
    system = schedule.system_data if schedule else None
    payload = {
        "notice": notice,
        "schedule": plan.name,
        "schedule_id": plan.schedule_id,
        "display_name": (schedule.properties.display_name if schedule else None) or plan.name,
        "workspace": plan.workspace.name,
        "subscription_id": plan.workspace.subscription_id,
        "resource_group": plan.workspace.resource_group,
        "trigger": describe_trigger(schedule) if schedule else "",
        "time_zone": (trigger.time_zone if trigger else None) or "UTC",
        "state": plan.state.value,
        "state_since": plan.state_since.isoformat() if plan.state_since else None,
        "changed_by": (system.last_modified_by if system else None) or "",
        "end_time": trigger.end_time if trigger else None,
        "grace_minutes": round(plan.limits.grace.total_seconds() / 60),
        "deadline_minutes": round(plan.limits.deadline.total_seconds() / 60) if plan.limits.deadline else None,
        "last_job": _job_facts(report.last_job),
        **extra,
    }
    labels = {"kind": KIND, "workspace": plan.workspace.name, "experiment": schedule.experiment if schedule else ""}
    return Detected(key, KIND, payload, labels, due_at)


def describe_trigger(schedule: Schedule) -> str:
    """`cron 0 2 * * *`, `every 1 week on Monday, Thursday at 06:30`, `every 4 hours`."""
    trigger = schedule.properties.trigger
    if trigger.trigger_type == "Cron":
        return f"cron {trigger.expression}"
    unit = trigger.frequency.lower() + ("s" if trigger.interval > 1 else "")
    text = f"every {trigger.interval} {unit}"
    pattern = trigger.pattern
    if pattern is None:
        return text
    if pattern.week_days:
        text += " on " + ", ".join(pattern.week_days)
    if pattern.month_days:
        text += " on day " + ", ".join(str(day) for day in pattern.month_days)
    times = [f"{hour:02d}:{minute:02d}" for hour in pattern.hours or [0] for minute in pattern.minutes or [0]]
    return f"{text} at {', '.join(times)}"
