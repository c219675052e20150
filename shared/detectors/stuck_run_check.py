"""Stuck runs as a periodic check: its inputs, its detector, its view and its spec (the registry's line).

The check needs more than one query's rows: the notices it already recorded (a reminder counts from the stuck
notice, "finished" follows only a recorded stuck notice, and the query must keep reading the pipeline runs of
open notices) and the steps' display names from run history. Its source (shared/scans/sources/stuck_runs.py)
gathers them per Log Analytics workspace; what to do with them is stuck_runs.py (pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from shared.core.azure_ml import Workspace, studio_run_url
from shared.core.text import utc_text
from shared.detectors.base import DetectorSpec, Findings, Shape, ViewOptions
from shared.detectors.stuck_run_query import RunState
from shared.detectors.stuck_runs import KIND, find_stuck, stuck_run_notices
from shared.rules.stuck_runs import StuckRunRules

if TYPE_CHECKING:
    from shared.rules import Rules
    from shared.settings import Settings

SCAN = "stuck-runs"


@dataclass(frozen=True)
class StuckRunInputs:
    states: list[RunState]
    recorded: Mapping[str, datetime]  # every stuck-run notice key in the outbox -> when it was recorded
    step_names: Mapping[str, str] = field(default_factory=dict)  # run id -> display name (run history)


@dataclass(frozen=True)
class StuckRunDetector:
    rules: StuckRunRules
    scan: ClassVar[str] = SCAN

    @property
    def lookback(self) -> timedelta:
        return self.rules.lookback

    def pipelines_to_name(self, states: list[RunState], now: datetime) -> list[tuple[Workspace, str]]:
        """(workspace, pipeline run id) of the pipelines with a stuck step: whose step names are worth a call."""
        return [
            (stuck.workspace, stuck.pipeline_run_id)
            for stuck in find_stuck(states, self.rules, now)
            if any(not run.run.is_pipeline for run in stuck.runs)
        ]

    def detect(self, inputs: StuckRunInputs, now: datetime) -> Findings:
        return Findings(stuck_run_notices(inputs.states, self.rules, now, inputs.recorded, inputs.step_names))


def _minutes(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _when(value: str | None) -> str:
    return utc_text(datetime.fromisoformat(value)) if value else ""


def view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    """The notice (stuck, reminder or finished) with studio links; each run with the limit it is over and why."""
    workspace = Workspace(payload["workspace"], payload.get("subscription_id", ""), payload.get("resource_group", ""))
    tenant = options.studio_tenant_id
    root = payload["pipeline_run_id"]
    what = payload.get("experiment") or root
    runs = [
        {
            **run,
            **{field: _when(run.get(field)) for field in ("status_since", "since", "over_since")},
            "name": run.get("step_name") or ("the pipeline run" if run.get("is_pipeline") else run["run_id"]),
            "limit_text": _minutes(int(run.get("limit_minutes", 0))),
            "url": studio_run_url(workspace, run["run_id"], tenant),
        }
        for run in payload.get("runs", [])
    ]
    notice = payload["notice"]
    first = runs[0] if runs else None
    if notice == "finished":
        ran = _minutes(int(payload.get("ran_minutes", 0)))
        subject = (
            f"[AML] Stuck pipeline ended: {what} in {workspace.name} {payload.get('ended_status', '')} after {ran}"
        )
    else:
        prefix = f"Still stuck (reminder {payload.get('reminder')})" if notice == "reminder" else "Stuck pipeline"
        state = f"{first['status']} over its {first['limit_text']} limit" if first else "over its limit"
        subject = f"[AML] {prefix}: {what} in {workspace.name}, {state}"
    return {
        "subject": subject,
        "notice": notice,
        "payload": payload,
        "workspace": workspace,
        "what": what,
        "pipeline_run_id": root,
        "pipeline_url": studio_run_url(workspace, root, tenant),
        "runs": runs,
        "ran_text": _minutes(int(payload.get("ran_minutes", 0))),
        "ended_at": _when(payload.get("ended_at")),
        "first_seen": _when(payload.get("first_seen")),
    }


def build(rules: Rules, settings: Settings) -> StuckRunDetector:
    return StuckRunDetector(rules.stuck_runs)


SPEC = DetectorSpec(
    kind=KIND,
    title="stuck runs",
    shape=Shape.PERIODIC,
    view=view,
    templates="stuck_run",
    scan=SCAN,
    function="scan_stuck_runs",
    schedule_setting="STUCK_RUNS_SCHEDULE",
    rules_section="stuck_runs",
    build=build,
    source="stuck-runs",
)
