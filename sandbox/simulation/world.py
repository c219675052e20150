"""The simulated day: what happens (pipeline runs, compute deletions, drift), as log rows and metric points with
their ingestion delays, and the ground truth - the incidents that should be alerted.

Everything is drawn from one `random.Random(seed)`: the same seed gives the same day.

Ingestion delay: Log Analytics ingests in batches, so one delay is drawn per (workspace, table, minute of
TimeGenerated) from a log-normal distribution (median 2 min, sigma 1; about 80 % under 5 min, a few percent
over 10 min) capped at 30 min. Rows of different minutes can therefore arrive out of order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.pipeline_runs import PipelineRun, Step, StepError, Transition
from sandbox.scenarios import STEP_NAMES as SCENARIO_STEPS
from sandbox.scenarios import activity_rows, workspace_resource_id

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
WORKSPACES = ("ws-churn-prod", "ws-fraud-prod", "ws-vision-prod", "ws-forecast-prod", "ws-search-prod")
STEP_NAMES = ("prep", "validate", "featurize", "train", "evaluate", "register", "deploy", "report")
FEATURES = ("tenure_months", "monthly_spend")
DRIFT_RULE = "feature-drift"
DRIFT_METRIC = "drift_score"
DRIFT_NAMESPACE = "aml.drift"
DRIFT_THRESHOLD = 0.3
DRIFT_INTERVAL = timedelta(minutes=5)
DRIFT_CONSECUTIVE = 3
DELETE = "Microsoft.MachineLearningServices/workspaces/computes/delete"
CREATE = "Microsoft.MachineLearningServices/workspaces/computes/write"
CALLERS = ("mallory@contoso.com", "oscar@contoso.com", "trent@contoso.com", "peggy@contoso.com", "victor@contoso.com")


@dataclass(frozen=True)
class Incident:
    """One thing on-call must hear about exactly once."""

    key: str  # run-failure:<ws>:<pipeline run id>, compute-change:<correlation id>, drift:<series>:<start>
    kind: str  # run-failure, compute-change, drift
    at: datetime  # when it became knowable: first failure, final activity record, `consecutive`-th breach
    what: str  # for people reading a report
    # When the decisive row became queryable (its ingestion time): the first Failed status row of the pipeline,
    # the final activity record of the deletion; for drift the same as `at` (a point shows once its time passed).
    queryable_at: datetime | None = None


@dataclass
class Day:
    """The generated day: rows per (table, workspace), metric series, and the ground truth."""

    start: datetime
    end: datetime  # activity stops here; the runner keeps scanning for a drain period after it
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    pipelines: int = 0
    steps: int = 0
    # How emails name an incident, for matching them back (see score.py): run ids -> incident key, and
    # (subject fields) -> incident key for compute changes and drift notices.
    run_to_incident: dict[str, str] = field(default_factory=dict)
    change_subjects: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (target, ws, caller)
    drift_subjects: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (notice, resource, value)
    root_causes: dict[str, str] = field(default_factory=dict)  # run-failure key -> the step that failed first
    pipeline_runs: list[PipelineRun] = field(default_factory=list)  # for run history: the same runs as the rows
    # Stuck runs and schedules (silent.py): ("stuck", root run id) or (schedule, expected local time) -> key.
    silent_subjects: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class DayPlan:
    hours: float = 24
    seed: int = 7
    pipelines: int = 600  # pipeline runs per 24 hours, over all workspaces
    fail_rate: float = 0.04
    deletions: int = 4  # compute deletions per 24 hours (each in its own workspace)
    drift_episodes: int = 6  # per 24 hours, over all series
    drift_spikes: int = 8  # 1-2 breaching points that must not alert


class _Delays:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._batches: dict[tuple[str, str, datetime], timedelta] = {}

    def __call__(self, workspace: str, table: str, at: datetime) -> timedelta:
        batch = (workspace, table, at.replace(second=0, microsecond=0))
        if batch not in self._batches:
            seconds = self._rng.lognormvariate(math.log(120), 1.0)
            self._batches[batch] = timedelta(seconds=round(min(30 * 60, max(15, seconds))))
        return self._batches[batch]


def generate(plan: DayPlan) -> Day:
    rng = random.Random(plan.seed)
    day = Day(start=START, end=START + timedelta(hours=plan.hours))
    delay = _Delays(rng)
    span = (day.end - day.start).total_seconds()
    outages = _deletions(day, plan, rng, delay)
    count = max(1, round(plan.pipelines * plan.hours / 24))
    starts = sorted(day.start + timedelta(seconds=rng.uniform(0, span - 45 * 60)) for _ in range(count))
    for index, started in enumerate(starts):
        _pipeline(day, rng, delay, index, rng.choice(WORKSPACES), started, plan.fail_rate, outages)
    _drift(day, plan, rng)
    return day


def _add(day: Day, table: str, workspace: str, row: dict[str, Any], delay: _Delays) -> None:
    row["_IngestedAt"] = row["TimeGenerated"] + delay(workspace, table, row["TimeGenerated"])
    day.rows.setdefault(table, []).append(row)


def _gpu(workspace: str) -> str:
    return f"gpu-{workspace.split('-')[1]}"


def _deletions(day: Day, plan: DayPlan, rng: random.Random, delay: _Delays) -> dict[str, tuple[datetime, datetime]]:
    """Compute deletions (each a different workspace's GPU cluster): the cluster is gone for 30-60 minutes,
    and the pipelines that need it meanwhile fail (a storm). Recreating it is logged too (not alerted)."""
    count = min(len(WORKSPACES), max(0, round(plan.deletions * plan.hours / 24)))
    outages = {}
    span = (day.end - day.start).total_seconds()
    for index, workspace in enumerate(rng.sample(WORKSPACES, count)):
        at = day.start + timedelta(seconds=rng.uniform(span * 0.1, span * 0.8))
        back = at + timedelta(minutes=rng.uniform(30, 60))
        correlation = f"00000000-0000-4000-8000-{index:012d}"
        caller = CALLERS[index % len(CALLERS)]
        deleted = []
        for row in activity_rows(workspace, _gpu(workspace), DELETE, caller, at, correlation):
            _add(day, "AzureActivity", workspace, deleted_row := _without_ingestion(row), delay)
            deleted.append(deleted_row["_IngestedAt"])
        for row in activity_rows(workspace, _gpu(workspace), CREATE, caller, back, f"{correlation[:-4]}ffff"):
            _add(day, "AzureActivity", workspace, _without_ingestion(row), delay)
        key = f"compute-change:{correlation}"
        day.incidents.append(
            Incident(
                key,
                "compute-change",
                at + timedelta(seconds=40),
                f"{_gpu(workspace)} deleted in {workspace}",
                max(deleted),
            )
        )
        day.change_subjects[(_gpu(workspace), workspace, caller)] = key
        outages[workspace] = (at, back)
    return outages


def _without_ingestion(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "_IngestedAt"}


def _pipeline(
    day: Day,
    rng: random.Random,
    delay: _Delays,
    index: int,
    workspace: str,
    started: datetime,
    fail_rate: float,
    outages: dict[str, tuple[datetime, datetime]],
) -> None:
    """One pipeline run: steps in sequence, with `evaluate` running beside `train`. A failing step may take its
    parallel sibling down minutes later (a cascade); the rest are cancelled or never start. The run is kept
    (`day.pipeline_runs`) for run history; its Log Analytics rows get this world's ingestion delays."""
    short = workspace.split("-")[1]
    root = f"{short}-{index:05d}"
    names = STEP_NAMES[: rng.randint(5, len(STEP_NAMES))]
    experiment = f"{short}-{rng.choice(['training', 'scoring', 'retrain'])}"
    day.pipelines += 1
    day.steps += len(names)
    steps: dict[str, Step] = {}
    clock = started + timedelta(seconds=rng.uniform(5, 30))
    failed_step = rng.randrange(len(names)) if rng.random() < fail_rate else None
    failures: list[tuple[str, datetime, str, str]] = []  # run id, time, error, cluster
    for position, name in enumerate(names):
        run = f"{root}_{name}"
        if failures:  # something failed already: the rest is cancelled or never starts
            if all(run != failed for failed, *_ in failures):
                status = "Canceled" if position % 2 else "NotStarted"
                steps[run] = _step(run, name, "cpu-cluster", Transition(status, clock))
            continue
        cluster = _gpu(workspace) if name == "train" else "cpu-cluster"
        outage = outages.get(workspace)
        gone = outage is not None and cluster != "cpu-cluster" and outage[0] <= clock < outage[1]
        if gone or position == failed_step:
            failures = _failures(rng, root, names, run, name, clock, cluster, gone)
            for run_id, when, text, on in failures:
                steps[run_id] = _step(
                    run_id,
                    run_id.rsplit("_", 1)[1],
                    on,
                    Transition("Running", clock),
                    Transition("Failed", when, "Execution failed"),
                    error=_error(text),
                )
            clock = max(when for _, when, _, _ in failures) + timedelta(seconds=30)
            continue
        begin = clock
        clock += timedelta(minutes=rng.uniform(1, 9))
        steps[run] = _step(run, name, cluster, Transition("Running", begin), Transition("Completed", clock))
    end = (
        Transition("Failed", clock + timedelta(seconds=20), "Pipeline failed: one or more steps failed")
        if failures
        else Transition("Completed", clock + timedelta(seconds=20))
    )
    pipeline = PipelineRun(
        workspace,
        root,
        f"{experiment.replace('-', '_')}_pipeline",
        experiment,
        (Transition("Running", started), end),
        tuple(steps.values()),
    )
    day.pipeline_runs.append(pipeline)
    failed_rows = []
    for table, row in pipeline.rows():
        _add(day, table, workspace, added := _without_ingestion(row), delay)
        if table == "AmlRunStatusChangedEvent" and added["Status"] == "Failed":
            failed_rows.append(added["_IngestedAt"])
    if failures:
        key = f"run-failure:{workspace}:{root}"
        first = min(failures, key=lambda failure: failure[1])
        day.incidents.append(
            Incident(key, "run-failure", first[1], f"{root} failed at {first[0]}", min(failed_rows, default=None))
        )
        day.root_causes[key] = first[0]
        for run in [root, *(f"{root}_{name}" for name in names)]:
            day.run_to_incident[run] = key


def _step(run: str, name: str, compute: str, *transitions: Transition, error: StepError | None = None) -> Step:
    display, component = SCENARIO_STEPS[name]
    return Step(run, display, component, transitions, compute=compute, error=error)


def _error(text: str) -> StepError:
    """The compute's error text as the job event row has it; run history's `error` says the same."""
    inner = ("ComputeNotFound",) if "not found: it was deleted" in text else ()
    return StepError("UserError", f"Execution failed. {text}", inner, compute_message=text)


def _failures(
    rng: random.Random,
    root: str,
    names: tuple[str, ...],
    run: str,
    name: str,
    begin: datetime,
    cluster: str,
    gone: bool,
) -> list[tuple[str, datetime, str, str]]:
    """The failing step (its compute deleted, or its own error) and, for `train`, maybe `evaluate` beside it."""
    if gone:
        failures = [
            (
                run,
                begin + timedelta(seconds=rng.uniform(20, 120)),
                f"Compute target {cluster} not found: it was deleted",
                cluster,
            )
        ]
    else:
        failures = [
            (
                run,
                begin + timedelta(minutes=rng.uniform(1, 9)),
                f"UserError: {name} failed in {run}: ValueError: bad input batch {rng.randint(1, 999)}",
                cluster,
            )
        ]
    if name == "train" and "evaluate" in names and rng.random() < 0.6:
        later = failures[0][1] + timedelta(minutes=rng.uniform(1, 6))  # the cascade: evaluate runs beside train
        failures.append((f"{root}_evaluate", later, "FileNotFoundError: model.pkl not found", "cpu-cluster"))
    return failures


def _drift(day: Day, plan: DayPlan, rng: random.Random) -> None:
    """One drift series per workspace and feature, a point every 5 minutes. Episodes: 4-18 points over the
    threshold; spikes: 1-2 points over it (flapping, not an incident). Every value is unique, so a notice's
    subject (which shows the value) names its episode."""
    used: set[str] = set()

    def unique(low: float, high: float) -> float:
        while True:
            value = round(rng.uniform(low, high), 5)
            if f"{value:g}" not in used:
                used.add(f"{value:g}")
                return value

    first = day.start - timedelta(hours=1)
    points = int((day.end - first + timedelta(hours=1)) / DRIFT_INTERVAL)
    series = [(ws, feature) for ws in WORKSPACES for feature in FEATURES]
    breaching: dict[tuple[str, str], set[int]] = {s: set() for s in series}
    episodes: list[tuple[tuple[str, str], int, int]] = []
    lo, hi = int(timedelta(hours=1) / DRIFT_INTERVAL), int((day.end - first) / DRIFT_INTERVAL) - 20
    for count, length in (
        (round(plan.drift_episodes * plan.hours / 24), (4, 18)),
        (round(plan.drift_spikes * plan.hours / 24), (1, 2)),
    ):
        made = 0
        while made < count:
            which = rng.choice(series)
            begin = rng.randrange(lo, hi)
            size = rng.randint(*length)
            span = set(range(begin - DRIFT_CONSECUTIVE - 1, begin + size + DRIFT_CONSECUTIVE + 1))
            if span & breaching[which]:
                continue
            breaching[which].update(range(begin, begin + size))
            if size >= DRIFT_CONSECUTIVE:
                episodes.append((which, begin, size))
            made += 1
    values: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    for which in series:
        values[which] = [
            (
                first + i * DRIFT_INTERVAL + timedelta(seconds=20),
                unique(0.31, 0.8) if i in breaching[which] else unique(0.05, 0.25),
            )
            for i in range(points)
        ]
        ws, feature = which
        day.series.append(
            {
                "resource_id": workspace_resource_id(ws).lower(),
                "namespace": DRIFT_NAMESPACE,
                "metric": DRIFT_METRIC,
                "points": values[which],
                "dimensions": {"feature": feature},
            }
        )
    for which, begin, size in episodes:
        ws, feature = which
        fire_at, fire_value = values[which][begin + DRIFT_CONSECUTIVE - 1]
        _, resolve_value = values[which][begin + size + DRIFT_CONSECUTIVE - 1]
        start_at = values[which][begin][0]
        key = f"drift:{ws}:{feature}:{start_at:%H:%M}"
        # Knowable when the interval of the `consecutive`-th breaching point is over.
        ready = fire_at.replace(second=0) + DRIFT_INTERVAL
        day.incidents.append(Incident(key, "drift", ready, f"{feature} drifted in {ws} for {size} points", ready))
        resource = workspace_resource_id(ws).lower().rsplit("/", 1)[-1]
        day.drift_subjects[("FIRING", resource, f"{fire_value:g}")] = key
        day.drift_subjects[("RESOLVED", resource, f"{resolve_value:g}")] = key
        for index in range(begin, begin + size):  # every breaching point: what the naive approach emails on
            day.drift_subjects[("POINT", resource, f"{values[which][index][1]:g}")] = key
