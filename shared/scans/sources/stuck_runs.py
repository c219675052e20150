"""The stuck-run check's inputs for one Log Analytics workspace: the stuck-run notices already recorded (the
outbox), the runs' latest states (one query, which also follows the pipeline runs of open notices so their end is
seen), and the display names of the steps of stuck pipelines from Azure ML run history (best effort: without
them a step is named by its run id)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from shared.azure.failures import Unavailable
from shared.azure.log_analytics import QueryFailed
from shared.detectors.stuck_run_check import StuckRunDetector, StuckRunInputs
from shared.detectors.stuck_run_query import run_states, stuck_runs_query
from shared.detectors.stuck_runs import KIND, follow_run_ids
from shared.outbox.records import incident_key
from shared.scans.sources.base import Gathered, SourceDeps

if TYPE_CHECKING:
    from shared.core.budget import Budget
    from shared.detectors.stuck_run_query import RunState

log = logging.getLogger(__name__)
STEP_NAMES_SECONDS = 10.0  # per pipeline: names are a nicety, the notice goes without them


class StuckRunSource:
    def __init__(self, deps: SourceDeps) -> None:
        self._deps = deps

    @property
    def units(self) -> tuple[str, ...]:
        return self._deps.settings.workspace_ids

    def gather(self, detector: StuckRunDetector, unit: str, now: datetime, budget: Budget) -> Gathered:
        # The incidents' own records; copies for a route's other destinations (key@target) say nothing more.
        recorded = {key: at for key, at in self._deps.incidents.recorded(KIND).items() if incident_key(key) == key}
        start = now - detector.lookback
        query = stuck_runs_query(start, now, follow_run_ids(recorded))
        try:
            result = self._deps.logs.query(unit, query, start, now, budget.deadline)
        except QueryFailed as err:
            return Gathered(error=err.reason)
        states = run_states(result.rows)
        names = self.step_names(detector, states, now, budget)
        return Gathered(
            StuckRunInputs(states, recorded, names),
            rows=len(result.rows),
            complete=result.complete,
            absent_tables=result.absent_tables,
        )

    def step_names(
        self, detector: StuckRunDetector, states: list[RunState], now: datetime, budget: Budget
    ) -> dict[str, str]:
        """Run id -> display name of the steps of the pipelines that have a stuck step."""
        names: dict[str, str] = {}
        for workspace, root in detector.pipelines_to_name(states, now):
            steps = self._deps.run_history.children(workspace, root, budget.within(STEP_NAMES_SECONDS))
            if isinstance(steps, Unavailable):
                log.info("Stuck run %s: step names not read from run history (%s)", root, steps.reason)
                continue
            names.update({step.run_id: step.display_name for step in steps.steps if step.display_name})
        return names
