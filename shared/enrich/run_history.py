"""The delivery's Azure ML run-history enrichment of a failed pipeline: its steps by name, the root cause picked
from them, and for the root-cause step and each failed downstream step (capped) the error as studio shows it and
the last lines of its log (redacted). Details: docs/run-history.md.

Per incident: run history's `runs/{root}` (the pipeline's display name), `runs/{root}/children` (every step at
once), then `details` and the log tail of each step shown. Best effort inside the budget it is given (the
delivery gives each incident a share of its tick's budget): what could not be read becomes one line of the
email ("Step details need the role ...: run history answered 403 ..."), and the email goes out as it would
without run history. Nothing here is stored: the additions are rendered and dropped, so a log's SAS URL never
reaches a table (it never leaves `RunHistory`; the tails are redacted where they are read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.azure.failures import Failure, Unavailable
from shared.azure.run_history import RunHistory
from shared.azure.run_models import StepReport, StepRun
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget
from shared.detectors import run_failures
from shared.detectors.run_failure_view import ADDITION
from shared.enrich import Enrichment, EnrichmentSubject

ROLE_NAME = "AML Failure Alert Reader"  # the custom role infra/app/aml-reader-role.bicep defines
MIN_SECONDS = 2.0  # less than this left: not started (one call's worth)
_SUB_PIPELINE_DEPTH = 3
_TIMELINE_LIMIT = run_failures.STEP_LIMIT
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RunHistorySettings:
    max_steps: int = 3  # steps shown with their details and log tail: the root cause and failed downstream ones


def root_cause_step(steps: Sequence[StepRun]) -> StepRun | None:
    """The failed step that failed first (earliest end); None when no step failed. A failed sub-pipeline is a
    step whose own steps failed: the caller looks one level down."""
    failed = [step for step in steps if step.status.lower() == "failed"]
    if not failed:
        return None
    return min(failed, key=_ended)


class RunHistoryEnricher:
    """Enricher of `run-failure` incidents at delivery, from Azure ML run history."""

    name = "run-history"
    kinds = frozenset({run_failures.KIND})

    def __init__(self, history: RunHistory, settings: RunHistorySettings | None = None) -> None:
        self._history = history
        self._settings = settings or RunHistorySettings()

    def enrich(self, subject: EnrichmentSubject, budget: Budget) -> Enrichment:
        payload = {k: v for k, v in subject.payload.items() if k != "alert"}
        incident = run_failures.incident_from_payload(payload)
        if budget.remaining() < MIN_SECONDS:
            return Enrichment(note="Step details were not read from Azure ML run history: the time for it was spent.")
        workspace = incident.workspace
        listing = self._history.children(workspace, incident.pipeline_run_id, budget)
        if isinstance(listing, Unavailable):
            return Enrichment(note=_unreadable(listing, workspace))
        steps = listing.steps
        cause = self._leaf_cause(workspace, root_cause_step(steps), budget)
        pipeline = self._history.run(workspace, incident.pipeline_run_id, budget)
        shown = [cause] if cause is not None else []
        shown += [s for s in sorted(steps, key=_ended) if s.status.lower() == "failed" and s not in shown]
        reports = [self._history.step_report(workspace, step, budget) for step in shown[: self._settings.max_steps]]
        problems = [problem for report in reports for problem in report.problems]
        run = pipeline if isinstance(pipeline, StepRun) else None
        addition: dict[str, Any] = {
            "pipeline_name": run.display_name if run else "",
            "pipeline_status": run.status if run else "",
            "triggered_by": run.created_by if run else "",
            "pipeline_start": _when(run.start) if run else None,
            "pipeline_end": _when(run.end) if run else None,
            "pipeline_duration_s": run.duration.total_seconds() if run and run.duration else None,
            "root_cause": cause.run_id if cause is not None else "",
            "steps": [_timeline_row(step) for step in sorted(steps, key=_started)[:_TIMELINE_LIMIT]],
            "steps_omitted": max(0, len(steps) - _TIMELINE_LIMIT) + (0 if listing.complete else 1),
            "reports": [_report(report) for report in reports],
            "reports_omitted": max(0, len(shown) - len(reports)),
        }
        note = " ".join(dict.fromkeys(_unreadable(problem, workspace) for problem in problems))
        return Enrichment(additions={ADDITION: addition}, note=note)

    def _leaf_cause(self, workspace: Workspace, cause: StepRun | None, budget: Budget) -> StepRun | None:
        """A failed sub-pipeline's own first failed step (a few levels at most)."""
        for _ in range(_SUB_PIPELINE_DEPTH):
            if cause is None or not cause.is_pipeline:
                return cause
            inner = self._history.children(workspace, cause.run_id, budget)
            found = root_cause_step(inner.steps) if not isinstance(inner, Unavailable) else None
            if found is None:
                return cause
            cause = found
        return cause


def _unreadable(problem: Unavailable, workspace: Workspace) -> str:
    """One line for the email: what could not be read and why."""
    if problem.failure in (Failure.FORBIDDEN, Failure.UNAUTHORIZED) and problem.service != "log storage":
        return (
            f"Step details need the role '{ROLE_NAME}' (or Reader) for the app on workspace {workspace.name}: "
            f"{problem.reason}."
        )
    if problem.failure is Failure.OUT_OF_TIME:
        return f"Step details were not all read: the time for them ran out ({problem.reason})."
    return f"Step details could not be read: {problem.reason}."


def _started(step: StepRun) -> tuple[bool, datetime, str]:
    """Timeline order: by start (steps that never started last)."""
    when = step.start or step.created
    return (when is None, when or _EPOCH, step.run_id)


def _ended(step: StepRun) -> tuple[bool, datetime, str]:
    """Failure order: by end (a failed step without an end time last)."""
    return (step.end is None, step.end or _EPOCH, step.run_id)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _timeline_row(step: StepRun) -> dict[str, Any]:
    return {
        "run_id": step.run_id,
        "name": step.display_name,
        "component": step.component_name,
        "status": step.status,
        "start": _when(step.start),
        "end": _when(step.end),
        "duration_s": step.duration.total_seconds() if step.duration is not None else None,
        "compute": step.compute,
    }


def _report(report: StepReport) -> dict[str, Any]:
    error, log = report.error, report.log
    return {
        **_timeline_row(report.step),
        "error_code": error.code if error else "",
        "inner_codes": list(error.inner_codes) if error else [],
        "error_message": error.message if error else "",
        "log_file": log.file_name if log else "",
        "log_lines": list(log.lines) if log else [],
        "log_truncated": log.truncated if log else False,
    }
