"""Stuck runs: which unfinished runs are over their limit, and the notices that follow (pure).

    a pipeline run with a run over its limit, no notice recorded yet -> "stuck" (one per pipeline run)
    still stuck, `repeat_every` after the stuck notice was recorded  -> "reminder" (numbered, one per period)
    the pipeline run of a recorded stuck notice is final             -> "finished" (how it ended)

One incident per pipeline run, naming every run of it that is over its limit (the pipeline run itself and/or
its steps), as a failed pipeline makes one email for all its failed steps. Whether a notice was recorded is
state the caller reads from the outbox (`recorded`); every key is derived from the run and that state, so two
instances evaluating the same rows produce the same keys, which the outbox claims once.

Which limit applies to a run, first that applies:
 1. the first `overrides` entry that matches it and sets a limit for its status family;
 2. a pipeline run whose experiment has at least `adaptive.min_runs` completed runs in the lookback:
    `adaptive.factor` x their p95 duration (at least `adaptive.minimum`), counted from its first row;
 3. a step that is running in a pipeline judged by 2: none of its own (its pipeline is the one judged: a step
    cannot run longer than its pipeline, and a fixed limit would flag the long steps of long pipelines);
 4. the default of its family: `queued` counted from its first row, `running` from its first Running row.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.azure_ml import Workspace
from shared.detectors.base import Detected
from shared.detectors.stuck_run_query import RunState
from shared.rules.parts import is_watched
from shared.rules.stuck_runs import StuckRunRules

KIND = "stuck-run"
_KEY = re.compile(rf"^{KIND}:[^:]+:(?P<root>.+?)(?::reminder:\d+|:finished)?$")


def incident_key(workspace: str, pipeline_run_id: str) -> str:
    """The stuck notice's key; reminders and the finished notice add a suffix to it."""
    return f"{KIND}:{workspace.lower()}:{pipeline_run_id}"


def open_incidents(recorded: Mapping[str, datetime]) -> dict[str, datetime]:
    """Stuck notices (key -> when recorded) whose pipeline run has no finished notice yet."""
    finished = {key.removesuffix(":finished") for key in recorded if key.endswith(":finished")}
    return {key: at for key, at in recorded.items() if _KEY.match(key) and key == _base(key) and key not in finished}


def follow_run_ids(recorded: Mapping[str, datetime]) -> list[str]:
    """The pipeline runs of open stuck notices: `stuck_runs_query` must return them even once final."""
    return sorted({match["root"] for key in open_incidents(recorded) if (match := _KEY.match(key))})


def _base(key: str) -> str:
    return re.sub(r":(?:reminder:\d+|finished)$", "", key)


@dataclass(frozen=True)
class Limit:
    allowed: timedelta
    since: datetime  # when the clock started
    reason: str  # for the email: which rule gave it

    @property
    def ends(self) -> datetime:
        return self.since + self.allowed


@dataclass(frozen=True)
class StuckRun:
    run: RunState
    limit: Limit
    step_name: str = ""  # from run history, when the caller has it


@dataclass(frozen=True)
class StuckPipeline:
    workspace: Workspace
    pipeline_run_id: str
    experiment: str
    runs: tuple[StuckRun, ...]  # over their limit, the pipeline run first, then by when they went over

    @property
    def key(self) -> str:
        return incident_key(self.workspace.name, self.pipeline_run_id)

    @property
    def over_since(self) -> datetime:
        return min(stuck.limit.ends for stuck in self.runs)


def _minutes(value: timedelta) -> str:
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def adaptive_limit(run: RunState, rules: StuckRunRules) -> Limit | None:
    adaptive = rules.adaptive
    if (
        adaptive is None
        or not run.is_pipeline
        or not run.experiment
        or run.baseline_p95 is None
        or run.baseline_runs < adaptive.min_runs
    ):
        return None
    allowed = max(adaptive.minimum, run.baseline_p95 * adaptive.factor)
    return Limit(
        allowed,
        run.first_seen,
        f"adaptive: {adaptive.factor:g} x p95 {_minutes(run.baseline_p95)} of "
        f"{run.baseline_runs} completed runs of {run.experiment}",
    )


def limit_for(
    run: RunState, rules: StuckRunRules, *, pipeline: RunState | None = None, step_name: str = ""
) -> Limit | None:
    """The limit that applies to `run` (see the module doc), or None when it is not watched or not judged on its
    own. `pipeline`: the state of the run's pipeline run, for a step."""
    family = "running" if run.is_running_family else "queued"
    step = None if run.is_pipeline else (step_name or run.run_id)
    found = rules.override_for(run.workspace.name, run.experiment, step)
    position, override = found if found else (0, None)
    if override is not None and not override.watch:
        return None
    since = run.family_since
    if override is not None and (allowed := getattr(override, family)) is not None:
        return Limit(allowed, since, f"override {position} in the rules: {family} {_minutes(allowed)}")
    if override is None or override.adaptive:
        if (adaptive := adaptive_limit(run, rules)) is not None:
            return adaptive
        if family == "running" and pipeline is not None and adaptive_limit(pipeline, rules) is not None:
            return None
    allowed = getattr(rules, family)
    return Limit(allowed, since, f"default for {family} runs: {_minutes(allowed)}")


def find_stuck(
    states: Iterable[RunState], rules: StuckRunRules, now: datetime, step_names: Mapping[str, str] | None = None
) -> list[StuckPipeline]:
    """Pipeline runs with at least one unfinished run over its limit at `now`, oldest problem first."""
    step_names = step_names or {}
    by_pipeline: dict[tuple[str, str], list[RunState]] = defaultdict(list)
    for state in states:
        if not state.is_final and is_watched(state.workspace.name, rules.workspaces):
            by_pipeline[(state.workspace.name.lower(), state.root_run_id.lower())].append(state)
    found = []
    for runs in by_pipeline.values():
        pipeline = next((run for run in runs if run.is_pipeline), None)
        stuck = []
        for run in runs:
            name = step_names.get(run.run_id, "")
            limit = limit_for(run, rules, pipeline=pipeline, step_name=name)
            if limit is not None and now >= limit.ends:
                stuck.append(StuckRun(run, limit, name))
        if stuck:
            stuck.sort(key=lambda s: (not s.run.is_pipeline, s.limit.ends, s.run.run_id))
            first = stuck[0].run
            experiment = next((run.experiment for run in runs if run.experiment), "")
            found.append(StuckPipeline(first.workspace, first.root_run_id, experiment, tuple(stuck)))
    return sorted(found, key=lambda pipeline: (pipeline.over_since, pipeline.key))


def stuck_run_notices(
    states: Iterable[RunState],
    rules: StuckRunRules,
    now: datetime,
    recorded: Mapping[str, datetime],
    step_names: Mapping[str, str] | None = None,
) -> list[Detected]:
    """The notices to record now. `recorded`: every stuck-run notice key in the outbox -> when it was recorded."""
    states = list(states)
    opened = open_incidents(recorded)
    notices = []
    for pipeline in find_stuck(states, rules, now, step_names):
        since = opened.get(pipeline.key)
        if since is None:
            if pipeline.key not in recorded:
                notices.append(_detected(pipeline.key, "stuck", pipeline, pipeline.over_since))
        elif rules.repeat_every is not None and (period := (now - since) // rules.repeat_every) >= 1:
            notices.append(_detected(f"{pipeline.key}:reminder:{period}", "reminder", pipeline, now, reminder=period))
    for state in states:
        key = incident_key(state.workspace.name, state.root_run_id)
        if state.is_pipeline and state.is_final and key in opened:
            ended = StuckPipeline(state.workspace, state.root_run_id, state.experiment, ())
            notices.append(
                _detected(
                    f"{key}:finished",
                    "finished",
                    ended,
                    state.status_at,
                    ended_status=state.status,
                    ended_at=state.status_at.isoformat(),
                    first_seen=state.first_seen.isoformat(),
                    ran_minutes=round((state.status_at - state.first_seen).total_seconds() / 60),
                )
            )
    return notices


def _detected(key: str, notice: str, pipeline: StuckPipeline, due_at: datetime, **extra: Any) -> Detected:
    workspace = pipeline.workspace
    payload = {
        "notice": notice,
        "workspace": workspace.name,
        "subscription_id": workspace.subscription_id,
        "resource_group": workspace.resource_group,
        "pipeline_run_id": pipeline.pipeline_run_id,
        "experiment": pipeline.experiment,
        "runs": [_run_payload(stuck) for stuck in pipeline.runs],
        **extra,
    }
    labels = {"kind": KIND, "workspace": workspace.name, "experiment": pipeline.experiment}
    return Detected(key, KIND, payload, labels, due_at)


def _run_payload(stuck: StuckRun) -> dict[str, Any]:
    """Stable while nothing changes (no "elapsed so far"): re-detecting an unchanged run rewrites nothing."""
    run = stuck.run
    return {
        "run_id": run.run_id,
        "parent_run_id": run.parent_run_id,
        "is_pipeline": run.is_pipeline,
        "step_name": stuck.step_name,
        "status": run.status,
        "status_since": run.status_at.isoformat(),
        "since": stuck.limit.since.isoformat(),
        "limit_minutes": round(stuck.limit.allowed.total_seconds() / 60),
        "limit": stuck.limit.reason,
        "over_since": stuck.limit.ends.isoformat(),
    }
