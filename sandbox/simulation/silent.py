"""The day's failures that send no failure event: pipeline runs that hang in Running past the stuck-run limit
(some end later: a second, "ended" notice), and Azure ML schedules that do not fire (an every-2-hours schedule
missing some fire times, a nightly one in W. Europe time missing its run) or are disabled during the day (one
notice). A naive alerter that waits for `Failed` rows cannot see any of them.

An `EventSource` of the runner (run.py): it adds its incidents to the day's ground truth when it is built, seeds
the Log Analytics rows and the Azure ML runs, schedules and jobs, and disables a schedule at its moment.
`entry(subject, day)` matches the app's emails back to those incidents for the score (score.py).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox, arm
from sandbox.aml_rows import workspace_resource_id
from sandbox.pipeline_runs import PipelineRun
from sandbox.scenarios import stuck_run

from .world import Day, Incident

SCHEDULED = "ws-scheduled"  # the Azure ML workspace whose schedules the app reads (AML_WORKSPACE_IDS)
STUCK_WORKSPACE = "ws-churn-prod"
RUNNING_LIMIT = timedelta(hours=2)  # stuck_runs.running in rules.yaml
GRACE = timedelta(minutes=30)  # schedules.grace in rules.yaml
ZONE, WINDOWS_ZONE = ZoneInfo("Europe/Berlin"), "W. Europe Standard Time"
SETTINGS = {"AML_WORKSPACE_IDS": workspace_resource_id(SCHEDULED)}

_STUCK = re.compile(r"^\[AML\] Stuck pipeline( ended)?: (?P<root>\S+) in ")
_MISSED = re.compile(r"^\[AML\] Schedule (?P<name>\S+) in \S+ did not run at (?P<when>\d{4}-\d\d-\d\d \d\d:\d\d) ")
_DISABLED = re.compile(r"^\[AML\] Schedule (?P<name>\S+) in \S+ was disabled$")


def entry(subject: str, day: Day) -> tuple[str, str] | None:
    """(incident key, notice) of an app email about a stuck run or a schedule; None if it is about none."""
    if match := _STUCK.match(subject):
        key = day.silent_subjects.get(("stuck", match["root"]))
        return (key, "ENDED" if match[1] else "alert") if key else None
    if match := _MISSED.match(subject):
        key = day.silent_subjects.get((match["name"], match["when"]))
        return (key, "alert") if key else None
    if match := _DISABLED.match(subject):
        key = day.silent_subjects.get((match["name"], "disabled"))
        return (key, "alert") if key else None
    return None


@dataclass
class SilentFailures:
    day: Day
    random_seed: int
    drain: timedelta

    def __post_init__(self) -> None:
        rng = random.Random(self.random_seed * 104729)
        day, span = self.day, self.day.end - self.day.start
        hours = span.total_seconds() / 3600
        count = max(2, round(3 * hours / 24))
        self.stuck = [self._stuck(index, count, rng) for index in range(count)]
        self.jobs: list[PipelineRun] = []
        self._every_two_hours(max(1, round(2 * hours / 24)), rng)
        self._nightly()
        self.disable_at = (day.start + span * 0.4).replace(second=0, microsecond=0)
        day.incidents.append(
            Incident("missed-schedule:export-disabled", "missed-schedule", self.disable_at, "disabled")
        )
        day.silent_subjects[("nightly-export", "disabled")] = "missed-schedule:export-disabled"

    def _stuck(self, index: int, count: int, rng: random.Random) -> PipelineRun:
        day = self.day
        over = day.start + (day.end - day.start) * (index + 1) / (count + 1)  # when it passes its limit
        ends = over + timedelta(minutes=rng.randint(20, 50)) if index % 2 == 0 else None
        root = f"hung_{index}_{rng.randrange(16**6):06x}"
        run = stuck_run(
            STUCK_WORKSPACE, root, over - RUNNING_LIMIT, ends, "Canceled", timedelta(minutes=rng.randint(1, 6))
        )
        key = f"stuck-run:{STUCK_WORKSPACE}:{root}"
        day.incidents.append(Incident(key, "stuck-run", over, f"{root} Running past {RUNNING_LIMIT}"))
        day.silent_subjects[("stuck", root)] = key
        return run

    def _every_two_hours(self, missed: int, rng: random.Random) -> None:
        day, name = self.day, "score-every-2h"
        self.created = day.start - timedelta(hours=3)
        fires = _times(self.created + timedelta(minutes=1), day.end + self.drain, timedelta(hours=2), minute=17)
        judged = [at for at in fires if day.start <= at <= day.end - GRACE]
        skipped = set(rng.sample(judged, min(missed, len(judged))))
        for at in fires:
            if at in skipped:
                self._missed(name, at, "UTC", at)
            else:
                self._job(name, at)

    def _nightly(self) -> None:
        """02:00 in W. Europe every night: its first run inside the day is missed, the others (before and
        after) come."""
        day, name = self.day, "nightly-retrain"
        first = (day.start - timedelta(days=2)).astimezone(ZONE).replace(hour=2, minute=0, second=0, microsecond=0)
        missed = False
        for days in range(5):
            local = first + timedelta(days=days)
            at = local.astimezone(ZoneInfo("UTC"))
            if not missed and day.start <= at <= day.end - GRACE:
                self._missed(name, at, WINDOWS_ZONE, local)
                missed = True
            elif at < day.end + self.drain:
                self._job(name, at)

    def _missed(self, name: str, at: datetime, zone: str, local: datetime) -> None:
        key = f"missed-schedule:{name}:{at:%Y%m%dT%H%M}"
        self.day.incidents.append(Incident(key, "missed-schedule", at + GRACE, f"{name} did not fire at {at:%H:%M}"))
        self.day.silent_subjects[(name, f"{local:%Y-%m-%d %H:%M}")] = key

    def _job(self, schedule: str, at: datetime) -> None:
        run = stuck_run(SCHEDULED, f"{schedule}_{at:%m%d%H%M}", at + timedelta(seconds=20), at + timedelta(minutes=25))
        self.jobs.append(replace(run, schedule=schedule, display_name=f"{schedule}-{at:%Y%m%dT%H%M%SZ}"))

    def seed(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        for run in self.stuck:
            sandbox.add_tables(run.tables(), DEFAULT_WORKSPACE_ID)
        sandbox.add_pipeline_runs(self.stuck + self.jobs)
        sandbox.add_schedule(SCHEDULED, "score-every-2h", arm.cron_trigger("17 */2 * * *"), created_at=self.created)
        nightly = arm.cron_trigger("0 2 * * *", WINDOWS_ZONE)
        sandbox.add_schedule(SCHEDULED, "nightly-retrain", nightly, created_at=self.created - timedelta(days=30))
        self._export(sandbox, enabled=True, modified=self.day.start)  # last edited as the day starts

    def _export(self, sandbox: Sandbox, *, enabled: bool, modified: datetime) -> None:
        trigger = arm.cron_trigger("30 23 * * *")  # no fire time between its edit and its disabling
        created = self.created - timedelta(days=10)
        sandbox.add_schedule(
            SCHEDULED, "nightly-export", trigger, created_at=created, modified_at=modified, enabled=enabled
        )

    def tick(self, now: datetime) -> None:
        """Someone disables the export schedule at `disable_at`."""
        if now == self.disable_at:
            self._export(self._sandbox, enabled=False, modified=now)


def _times(start: datetime, end: datetime, every: timedelta, minute: int) -> list[datetime]:
    at = start.replace(minute=minute, second=0, microsecond=0)
    while at < start or at.hour % 2:
        at += timedelta(hours=1)
    times = []
    while at < end:
        times.append(at)
        at += every
    return times
