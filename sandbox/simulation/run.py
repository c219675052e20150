"""The runner: Azurite (behind a gate that can take the table service down) + the sandbox, two real app
instances and two naive alerters, driven minute by minute on the sandbox clock (never wall time).

Schedules (minutes of the simulated clock), overlapping on purpose, `cadence` = (A, B) minutes:

    instance A: scan_run_failures every A minutes (at :00), scan_compute_changes (:01), scan_metrics (:02),
                scan_stuck_runs (:03), scan_schedules (:04); deliver_outbox every 2; its queue consumers
                (scan_workspace, send_notifications) every minute
    instance B: the same every B minutes, deliver_outbox every 3, its queue consumers every minute
    naive A / naive B: every 5 / every 4 minutes, each over the last 5 / 4 minutes by TimeGenerated
    native: Azure Monitor's log search alert rule every 5 minutes, its "Failed Runs" metric alert every minute

The scan timers put their workspaces on the scan-workspaces queue and the intake puts what it records on the
notifications queue (docs/queues.md); each instance's local host loop (sandbox/queue_host.py) feeds both queues to
its own app's use cases on the sandbox clock, the two instances competing for the messages. A message's delay is
capped at 1 s of wall time (a simulated minute passes in a fraction of a second): one that shows before its
incidents are due is put back until they are (outbox/queued.py), so the outcome does not depend on the cap.

The deployed schedule is every 5 minutes; `make simulate` scans every 10 and 8 (a scan against the sandbox
costs ~0.1-0.2 s of wall time, and a day has 1,500 minutes), the test every 5 and 4. Coarser ticks make the
app's detection delay longer, nothing else: the naive alerters keep their 5 and 4 minutes.

In a minute where both instances have work they run at the same time, in two threads. A call that fails (the
table service is down) raises, as the Functions host would see it; it is recorded as a failed call, and the
next tick must catch up (the score shows whether it did). Two faults strike after ACS accepted an email: its
status poll fails (`email status 500`), or instance A dies before recording the outcome (`instance dies`,
crashes.py): the call, scan, outbox tick or webhook request, ends there with nothing recorded.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox
from sandbox.azurite import azurite_storage
from sandbox.emulator import LOCAL_RECIPIENT
from sandbox.queue_host import QueueHost, app_use_cases
from sandbox.table_gate import TableGate

from . import silent
from .alerts import AlertDeliveries
from .crashes import DyingEmail, InstanceDied
from .naive import NaiveAlerter
from .native import LOG_SENDER, METRIC_SENDER, NativeAlerts
from .pipeline_emails import RootCauses, root_causes
from .score import Score, pipeline_entries, score
from .world import Day, DayPlan, generate

RULES = Path(__file__).with_name("rules.yaml")
RECIPIENT = LOCAL_RECIPIENT
QUEUE_LOCK = timedelta(seconds=2)  # wall time a dead consumer's message stays locked (the host's 10 min)
# Receives per queue per simulated minute and instance (16 messages each): the clock stands still meanwhile, so a
# message put back until its incidents are due shows again after its 1 s and would be taken again and again.
QUEUE_ROUNDS = 8
DRAIN = timedelta(hours=1)  # activity stops at the end of the day; scans go on this long so late rows land
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    what: str  # "email 429", "email 500", "email status 500", "instance dies", "tables down"
    start: datetime
    end: datetime

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass
class Result:
    day: Day
    faults: list[Fault]
    scores: list[Score]
    failed_calls: list[tuple[str, str, datetime, str]] = field(default_factory=list)  # instance, use case, when
    deaths: list[tuple[str, str, datetime]] = field(default_factory=list)  # instance, use case, when it died
    status_faults_answered: int = 0  # email status reads answered with an error
    repeats_answered: int = 0  # sends ACS answered with the first answer of a repeated request
    table_requests_refused: int = 0
    email_faults_answered: int = 0
    naive_failed_sends: int = 0
    native_failed_sends: int = 0
    queue: dict[str, int] = field(default_factory=dict)  # messages run, failed, poisoned, consumers died
    wall_seconds: float = 0.0
    ticks: int = 0
    outbox: dict[str, int] = field(default_factory=dict)  # the app's incident records by status, at the end
    retried: int = 0  # incidents whose email needed more than one attempt
    cadence: tuple[int, int] = (10, 8)
    drain: timedelta = DRAIN
    call_seconds: dict[str, list[float]] = field(default_factory=dict)  # use case -> wall seconds of each call
    webhook: dict[str, int] = field(default_factory=dict)  # alerts fired, deliveries, answers by status
    root_causes: RootCauses | None = None  # what the app's pipeline emails named as root cause


class EventSource(Protocol):
    """Something that happens during the day. Rows and series are seeded up front (Log Analytics shows them
    only once ingested); a source that must act at a moment (the webhook receiving Azure Monitor's retried
    deliveries, alerts.py) does it in `tick`."""

    def seed(self, sandbox: Sandbox) -> None: ...

    def tick(self, now: datetime) -> None: ...


@dataclass
class LogRows:
    day: Day

    def seed(self, sandbox: Sandbox) -> None:
        sandbox.add_tables(self.day.rows, DEFAULT_WORKSPACE_ID)
        sandbox.add_pipeline_runs(self.day.pipeline_runs)  # the same runs in run history, without ingestion delay

    def tick(self, now: datetime) -> None:
        """Nothing: ingestion delays are in the rows."""


@dataclass
class MetricSeries:
    day: Day

    def seed(self, sandbox: Sandbox) -> None:
        for series in self.day.series:
            sandbox.add_metric_series(
                series["resource_id"],
                series["namespace"],
                series["metric"],
                series["points"],
                series["dimensions"],
                unit="Unspecified",
            )

    def tick(self, now: datetime) -> None:
        """Nothing: a point is visible once its time has passed."""


def plan_faults(day: Day, seed: int) -> list[Fault]:
    """ACS throttling bursts (429, 10-25 min), ACS failures (500, 2-5 min), ACS status reads failing (500,
    10-20 min), instance A dying after ACS accepted each email it sends (45-90 min) and table outages (5-12 min),
    scaled to the length of the day (at least one of each), inside the day. Faults strike when there is work:
    the first of each kind starts a few minutes after an incident (the first 429 burst right after a compute
    deletion, when its storm of failing pipelines is being emailed); the others at random times."""
    rng = random.Random(seed * 7919)
    hours = (day.end - day.start).total_seconds() / 3600
    latest = day.start + timedelta(hours=hours * 0.9) - timedelta(minutes=25)
    deletions = sorted(i.at for i in day.incidents if i.kind == "compute-change")
    failures = sorted(i.at for i in day.incidents if i.kind == "run-failure")
    anchors = {
        "email 429": deletions[:1],
        "tables down": deletions[1:2] or failures[len(failures) // 2 :][:1],
        "email 500": failures[len(failures) // 3 :][:1],
        "email status 500": failures[len(failures) // 4 :][:1],
        "instance dies": deletions[2:3] or failures[2 * len(failures) // 3 :][:1],
    }
    faults = []
    kinds = (
        ("email 429", 3, (10, 25)),
        ("email 500", 3, (2, 5)),
        ("email status 500", 2, (10, 20)),
        ("instance dies", 2, (45, 90)),
        ("tables down", 2, (5, 12)),
    )
    for what, per_day, minutes in kinds:
        for index in range(max(1, round(per_day * hours / 24))):
            length = timedelta(minutes=rng.randint(*minutes))
            start = day.start + timedelta(minutes=rng.randint(int(hours * 6), int(hours * 60 * 0.9) - 25))
            if index == 0 and anchors[what] and anchors[what][0] + timedelta(minutes=3) <= latest:
                start = (anchors[what][0] + timedelta(minutes=rng.randint(2, 6))).replace(second=0)
            faults.append(Fault(what, start, start + length))
    return sorted(faults, key=lambda fault: fault.start)


def _due(minute: int, every: int, offset: int) -> bool:
    return minute % every == offset


def _instance_calls(
    app: Any, host: QueueHost, minute: int, every: int, outbox_every: int
) -> list[tuple[str, Callable]]:
    calls: list[tuple[str, Callable[..., Any]]] = []
    if _due(minute, every, 0):
        calls.append(("scan_run_failures", partial(app.tick, "run-failures")))
    if _due(minute, every, 1):
        calls.append(("scan_compute_changes", partial(app.tick, "compute-changes")))
    if _due(minute, every, 2):
        calls.append(("scan_metrics", partial(app.tick, "metrics")))
    if _due(minute, every, 3 % every):
        calls.append(("scan_stuck_runs", partial(app.tick, "stuck-runs")))
    if _due(minute, every, 4 % every):
        calls.append(("scan_schedules", partial(app.tick, "schedules")))
    if _due(minute, outbox_every, 0):
        calls.append(("deliver_outbox", app.deliver_outbox))
    calls.append(("queue consumers", partial(_consume, host)))
    return calls


def _consume(host: QueueHost, now: datetime) -> None:
    """The instance's queue functions take what is visible; a consumer that died mid-send ends the minute."""
    died = host.tally.died
    host.drain(max_rounds=QUEUE_ROUNDS)
    if host.tally.died > died:
        raise InstanceDied("a queue consumer died after ACS accepted an email")


def simulate(
    plan: DayPlan,
    progress: Callable[[str], None] | None = None,
    cadence: tuple[int, int] = (10, 8),
    drain: timedelta = DRAIN,
    *,
    run_history: bool = True,
    focus: Callable[[Day], Day] | None = None,
    with_naive: bool = True,
) -> Result:
    """`run_history`: RUN_HISTORY_ENABLED; `focus`: a reduction of the generated day (a second, shorter pass);
    `with_naive`: run the naive alerters beside the app (the comparison)."""
    from shared.app import AlertingApp
    from shared.settings import Settings

    wall = time.perf_counter()
    day = generate(plan) if focus is None else focus(generate(plan))
    faults = plan_faults(day, plan.seed)
    result = Result(day, faults, [], cadence=cadence, drain=drain)
    from shared.azure import queues

    queues.MAX_DELAY = timedelta(seconds=1)  # see the module docstring: delays are in wall time
    with azurite_storage() as azurite, Sandbox(now=day.start) as sandbox:
        gate = TableGate(int(azurite.split("TableEndpoint=http://127.0.0.1:")[1].split("/", 1)[0]))
        environ = dict(os.environ)  # the app reads its settings from here: put back after the day
        try:
            os.environ.update(
                sandbox.app_settings(
                    gate.connection_string(azurite),
                    RULES_FILE=str(RULES),
                    RUN_HISTORY_ENABLED=str(run_history).lower(),
                    **silent.SETTINGS,
                )
            )
            sandbox.faults.retry_after_ms = 1
            apps = {"A": AlertingApp(Settings.from_environ()), "B": AlertingApp(Settings.from_environ())}
            deaths = [fault for fault in faults if fault.what == "instance dies"]
            apps["A"].channels["email"] = DyingEmail(
                apps["A"].channels["email"], lambda: any(f.active(sandbox.now) for f in deaths)
            )
            for app in apps.values():
                app.ensure_tables()
            hosts = {
                name: QueueHost(
                    azurite, app_use_cases(app, lambda: sandbox.now), lock=QUEUE_LOCK, visibility=timedelta(seconds=1)
                )
                for name, app in apps.items()
            }
            alerts = AlertDeliveries(day, apps, plan.seed)
            native = NativeAlerts(day, sandbox.endpoint, DEFAULT_WORKSPACE_ID, (RECIPIENT,))
            sources: list[EventSource] = [
                LogRows(day),
                MetricSeries(day),
                alerts,
                silent.SilentFailures(day, plan.seed, drain),
                *([native] if with_naive else []),
            ]
            for source in sources:
                source.seed(sandbox)
            for fault in faults:
                if fault.what.startswith("email"):
                    service = "email-status" if fault.what.startswith("email status") else "email"
                    sandbox.fail_during(service, int(fault.what.split()[-1]), fault.start, fault.end)
            rule = apps["A"].rules.metric_rules[0]
            naive = [
                NaiveAlerter("A", timedelta(minutes=5), sandbox.endpoint, DEFAULT_WORKSPACE_ID, rule, (RECIPIENT,)),
                NaiveAlerter("B", timedelta(minutes=4), sandbox.endpoint, DEFAULT_WORKSPACE_ID, rule, (RECIPIENT,)),
            ][: 2 if with_naive else 0]
            _run_clock(day, faults, sandbox, gate, apps, hosts, naive, sources, result, progress, cadence, drain)
            _tally(result, apps["A"], hosts, gate, alerts)
        finally:
            gate.stop()
            os.environ.clear()
            os.environ.update(environ)
        emails = [email for email in sandbox.emails if email["status"] == "Succeeded"]  # what was delivered
        result.email_faults_answered = sandbox.faults.raised.get("email", 0)
        result.status_faults_answered = sandbox.faults.raised.get("email-status", 0)
        result.repeats_answered = sandbox.email.repeats_answered
    result.naive_failed_sends = sum(n.failed_sends for n in naive)
    result.native_failed_sends = native.failed_sends
    app_emails = [e for e in emails if e["senderAddress"].startswith("DoNotReply@")]
    result.scores = _scores(emails, app_emails, day)
    result.root_causes = root_causes(pipeline_entries(app_emails, day), day)
    result.wall_seconds = time.perf_counter() - wall
    return result


def _tally(result: Result, app: Any, hosts: dict[str, QueueHost], gate: TableGate, alerts: AlertDeliveries) -> None:
    """What the day left behind: the queues' and the webhook's counts, the outbox's end states."""
    tallies = [host.tally for host in hosts.values()]
    result.queue = {what: sum(getattr(t, what) for t in tallies) for what in ("ran", "failed", "poisoned", "died")}
    result.table_requests_refused = gate.refused
    result.webhook = {
        "alerts": alerts.alerts,
        "deliveries": alerts.delivered,
        **{f"answered {status}": n for status, n in sorted(alerts.answers.items())},
        **({"no answer (instance died)": len(alerts.died)} if alerts.died else {}),
    }
    result.deaths += [(instance, "alert_webhook", when) for instance, when in alerts.died]
    records = app.incidents.records()
    result.outbox = dict(Counter(_end_state(record) for record in records))
    result.retried = sum(record.attempts > 1 for record in records)


def _scores(emails: list[dict], app_emails: list[dict], day: Day) -> list[Score]:
    def sent_by(prefix: str) -> list[dict]:
        return [e for e in emails if e["senderAddress"].startswith(prefix)]

    naive_a, naive_b = sent_by("naive-a@"), sent_by("naive-b@")
    native_log, native_metric = sent_by(LOG_SENDER), sent_by(METRIC_SENDER)
    return [
        score("this app, 2 instances", app_emails, day, naive=False),
        score("naive, 1 instance (every 5 min)", naive_a, day, naive=True),
        score("naive, 2 instances (every 5 and 4 min)", naive_a + naive_b, day, naive=True),
        score("Azure Monitor: log search alert (5 min, by RootRunId)", native_log, day, naive=False, native=True),
        score("Azure Monitor: Failed Runs metric alert", native_metric, day, naive=False, native=True),
        score("Azure Monitor: both rules", native_log + native_metric, day, naive=False, native=True),
    ]


def _run_clock(
    day: Day,
    faults: list[Fault],
    sandbox: Sandbox,
    gate: TableGate,
    apps: dict[str, Any],
    hosts: dict[str, QueueHost],
    naive: list[NaiveAlerter],
    sources: list[EventSource],
    result: Result,
    progress: Callable[[str], None] | None,
    cadence: tuple[int, int],
    drain: timedelta,
) -> None:
    now, end = day.start, day.end + drain
    every = {"A": (cadence[0], 2), "B": (cadence[1], 3)}
    while now <= end:
        sandbox.set_clock(now)
        minute = int((now - day.start).total_seconds() // 60)
        down = any(f.what == "tables down" and f.active(now) for f in faults)
        if down and gate.is_open:
            gate.close_gate()
        elif not down and not gate.is_open:
            gate.open_gate()
        for source in sources:
            source.tick(now)
        threads = []
        for name, app in apps.items():
            calls = _instance_calls(app, hosts[name], minute, *every[name])
            if calls:
                threads.append(threading.Thread(target=_run_calls, args=(name, calls, now, result)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started = time.perf_counter()
        for alerter in naive:
            if minute % int(alerter.every.total_seconds() // 60) == 0:
                alerter.tick(now)
        result.call_seconds.setdefault("naive", []).append(time.perf_counter() - started)
        result.ticks += 1
        if progress and minute % 60 == 0:
            progress(f"  {now:%H:%M} simulated, {len(sandbox.emails)} emails so far")
        now += timedelta(minutes=1)


_lock = threading.Lock()


def _run_calls(instance: str, calls: list[tuple[str, Callable]], now: datetime, result: Result) -> None:
    for name, call in calls:
        started = time.perf_counter()
        try:
            call(now)
        except InstanceDied:  # the host starts a new instance; its next tick must settle what was in flight
            with _lock:
                result.deaths.append((instance, name, now))
            return
        except Exception as err:  # the Functions host logs a failed invocation; the next tick must catch up
            log.info("instance %s: %s failed at %s: %s", instance, name, now, str(err).splitlines()[0])
            with _lock:
                result.failed_calls.append((instance, name, now, type(err).__name__))
        with _lock:
            result.call_seconds.setdefault(name, []).append(time.perf_counter() - started)


def _end_state(record: Any) -> str:
    """A record's status, follow-ups told apart: one with no news (run history had named the cause already) is
    silenced by design."""
    from shared.outbox.records import FOLLOW_UP

    return f"{record.status.value} (follow-up)" if record.key.endswith(FOLLOW_UP) else record.status.value
