"""A pipeline run as the sandbox's services see it: one model that produces both the Log Analytics rows
(AmlRunStatusChangedEvent, AmlComputeJobEvent) and what Azure ML run history and ARM answer about it, so the two
always agree: the same run ids, statuses and times.

A run's life is its list of transitions (status, time, message): each is one `AmlRunStatusChangedEvent` row,
and run history at a sandbox time shows the latest transition by then (the start is the first `Running`, the
end the terminal one). Run history has no ingestion delay; Log Analytics rows arrive `ingest_delay` later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .aml_rows import job_failed_row, status_row

TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding"})
STD_LOG = "user_logs/std_log.txt"


@dataclass(frozen=True)
class Transition:
    status: str
    at: datetime
    message: str = ""  # AmlRunStatusChangedEvent.Message


@dataclass(frozen=True)
class StepError:
    """What a failed step says: run history's `error` and, for a job on an AmlCompute cluster, the compute's
    `AmlComputeJobEvent` row (JobErrorMessage, ErrorDetails)."""

    code: str  # UserError, SystemError ...
    message: str  # as studio shows it
    inner: tuple[str, ...] = ()  # innerError codes, outermost first
    compute_message: str = ""  # no AmlComputeJobEvent row when empty
    compute_details: str = ""


class _Life:
    transitions: tuple[Transition, ...]

    def at(self, now: datetime) -> Transition | None:
        """The latest transition by `now`; None before the run exists."""
        seen = [t for t in self.transitions if t.at <= now]
        return seen[-1] if seen else None

    @property
    def created(self) -> datetime:
        return self.transitions[0].at

    def started(self, now: datetime) -> datetime | None:
        return next((t.at for t in self.transitions if t.status == "Running" and t.at <= now), None)

    def ended(self, now: datetime) -> datetime | None:
        return next((t.at for t in self.transitions if t.status in TERMINAL and t.at <= now), None)


@dataclass(frozen=True)
class Step(_Life):
    run_id: str
    name: str  # display name: the pipeline's node name, e.g. train_model
    component: str  # azureml.moduleName
    transitions: tuple[Transition, ...]
    component_version: str = "1"
    compute: str = "cpu-cluster"  # "": serverless (no AmlComputeJobEvent rows at all)
    error: StepError | None = None
    log: str | None = None  # the step's log; None: a plain one made from the facts above
    log_file: str = STD_LOG  # azureml-logs/70_driver_log.txt for the legacy runtime


@dataclass(frozen=True)
class PipelineRun(_Life):
    workspace: str  # Azure ML workspace name
    run_id: str
    display_name: str
    experiment: str
    transitions: tuple[Transition, ...]
    steps: tuple[Step, ...]
    created_by: str = "Nightly Scheduler"
    schedule: str = ""  # the schedule that created it, if any
    ingest_delay: timedelta = timedelta(0)
    tags: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, dict[str, Any]]]:
        """(table, row) in the order a pipeline writes them: the run starts, each step's transitions and its
        compute error, the run ends. Rows carry `_IngestedAt` = TimeGenerated + ingest_delay."""
        root, delay = self.run_id, self.ingest_delay
        opening = [t for t in self.transitions if t.status not in TERMINAL]
        closing = [t for t in self.transitions if t.status in TERMINAL]
        rows = [
            ("AmlRunStatusChangedEvent", status_row(self.workspace, root, "", root, t.status, t.at, t.message, delay))
            for t in opening
        ]
        for step in self.steps:
            for t in step.transitions:
                rows.append(
                    (
                        "AmlRunStatusChangedEvent",
                        status_row(self.workspace, step.run_id, root, root, t.status, t.at, t.message, delay),
                    )
                )
            failed = step.ended(step.transitions[-1].at)
            if step.error and step.error.compute_message and step.compute and failed:
                rows.append(
                    (
                        "AmlComputeJobEvent",
                        job_failed_row(
                            self.workspace,
                            step.run_id,
                            self.experiment,
                            step.compute,
                            failed,
                            step.error.compute_message,
                            step.error.compute_details,
                            delay,
                        ),
                    )
                )
        rows += [
            ("AmlRunStatusChangedEvent", status_row(self.workspace, root, "", root, t.status, t.at, t.message, delay))
            for t in closing
        ]
        return rows

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The rows by table, as `Sandbox.add_tables` takes them (a table without rows is left out)."""
        tables: dict[str, list[dict[str, Any]]] = {}
        for table, row in self.rows():
            tables.setdefault(table, []).append(row)
        return tables

    def step(self, run_id: str) -> Step | None:
        return next((s for s in self.steps if s.run_id.lower() == run_id.lower()), None)


def plain_log(pipeline: PipelineRun, step: Step) -> str:
    """A step's log when the scenario gave none: what the common runtime prints, ending with the error."""
    started = step.started(step.transitions[-1].at) or step.created
    stamp = started.strftime("%Y-%m-%d %H:%M:%S,000")
    lines = [
        f"{stamp} INFO  Starting {step.name} ({step.component}:{step.component_version}) of {pipeline.run_id}",
        f"{stamp} INFO  Compute: {step.compute or 'serverless'}",
        f"{stamp} INFO  Reading inputs",
    ]
    if step.error:
        lines += [
            "Traceback (most recent call last):",
            '  File "main.py", line 42, in <module>',
            f"{step.error.message.splitlines()[-1] if step.error.message else step.error.code}",
        ]
    else:
        lines.append(f"{stamp} INFO  Done")
    return "\n".join(lines) + "\n"
