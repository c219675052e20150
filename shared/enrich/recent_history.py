"""The delivery's "recent history" line of a failed pipeline: how its experiment's earlier pipeline runs ended
("Before this run, 3 of the last 10 finished pipeline runs of this experiment failed."). Details:
docs/run-history.md.

Source, and why: Azure ML run history, in two calls per incident: `runs/{root}` (this run's `experimentId` and
creation time) and one `experimentids/{id}/runs:query` (the experiment's runs created before it, newest first).
Log Analytics cannot say it: `AmlRunStatusChangedEvent` has no experiment or pipeline column, and
`AmlComputeJobEvent.ExperimentName` exists only for jobs on AmlCompute clusters (never for serverless steps, and
the sandbox, like many workspaces, writes it only for failed jobs), so "the same pipeline" cannot be found there.
The app's own incident records hold failures only (no successful runs to count against). The figure is per
experiment, which is the pipeline's identity in run history (several pipelines may share an experiment: the line
says "of this experiment", not "of this pipeline").

No step-level figure: naming "the same step" in earlier runs needs each run's `children` (one call per run), and
the incident records name a root-cause step only for runs that failed and were emailed with run history on.

Say nothing rather than guess: fewer than `min_runs` finished earlier pipeline runs known, run history not
readable, no experiment id, or less than `MIN_SECONDS` of the budget left: no line at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.azure.failures import Unavailable
from shared.azure.run_history import RunHistory
from shared.azure.run_models import StepRun
from shared.core.budget import Budget
from shared.detectors import run_failures
from shared.detectors.run_failure_view import RECENT_HISTORY
from shared.enrich import Enrichment, EnrichmentSubject

MIN_SECONDS = 1.0  # less than this left of the incident's budget: not asked (the line is a nicety)
_FINISHED = {"completed": "succeeded", "failed": "failed", "canceled": "canceled"}


@dataclass(frozen=True)
class RecentHistorySettings:
    runs: int = 10  # the earlier pipeline runs counted
    min_runs: int = 3  # fewer finished earlier runs known: no line
    query_top: int = 200  # runs asked for (the experiment's steps are runs too): ~10 runs of a 19-step pipeline


def earlier_outcomes(runs: Sequence[StepRun], this_run_id: str, limit: int) -> list[str]:
    """The outcomes ("succeeded", "failed", "canceled") of the newest `limit` finished pipeline runs among `runs`
    (newest first, as `runs:query` answers): root runs only, this run and runs still going left out."""
    outcomes = []
    for run in runs:
        is_root = not run.parent_run_id and run.root_run_id in ("", run.run_id)
        outcome = _FINISHED.get(run.status.lower())
        if is_root and outcome and run.run_id.lower() != this_run_id.lower():
            outcomes.append(outcome)
    return outcomes[:limit]


def history_line(outcomes: Sequence[str], min_runs: int) -> str:
    """One sentence about the earlier runs; "" when too few are known to say anything."""
    counted = len(outcomes)
    if counted < min_runs:
        return ""
    failed, canceled = outcomes.count("failed"), outcomes.count("canceled")
    scope = f"the last {counted} finished pipeline runs of this experiment"
    if failed == 0 and canceled == 0:
        return f"Before this run, {scope} all succeeded."
    also = f" ({canceled} more canceled)" if canceled else ""
    return f"Before this run, {failed} of {scope} failed{also}."


class RecentHistoryEnricher:
    """Enricher of `run-failure` incidents at delivery: the recent-history line, or nothing."""

    name = "recent-history"
    kinds = frozenset({run_failures.KIND})

    def __init__(self, history: RunHistory, settings: RecentHistorySettings | None = None) -> None:
        self._history = history
        self._settings = settings or RecentHistorySettings()

    def enrich(self, subject: EnrichmentSubject, budget: Budget) -> Enrichment:
        if budget.remaining() < MIN_SECONDS:
            return Enrichment()
        incident = run_failures.incident_from_payload(
            {k: v for k, v in subject.payload.items() if k not in ("alert", RECENT_HISTORY)}
        )
        workspace, s = incident.workspace, self._settings
        pipeline = self._history.run(workspace, incident.pipeline_run_id, budget)
        if isinstance(pipeline, Unavailable) or not pipeline.experiment_id or pipeline.created is None:
            return Enrichment()
        experiment, before = pipeline.experiment_id, pipeline.created
        runs = self._history.experiment_runs(workspace, experiment, before, budget, top=s.query_top)
        if isinstance(runs, Unavailable):
            return Enrichment()
        line = history_line(earlier_outcomes(runs, incident.pipeline_run_id, s.runs), s.min_runs)
        return Enrichment(additions={RECENT_HISTORY: line}) if line else Enrichment()
