"""The sandbox's Log Analytics rows and its Azure ML run history tell the same story: the same run ids, statuses and
times, for the scenarios and for a simulated day; and run history has a step's failure before Log Analytics does
when the step's row arrives late."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from azure.monitor.query import LogsQueryClient, LogsQueryResult

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox
from sandbox import run_history as sandbox_history
from sandbox.pipeline_runs import PipelineRun
from sandbox.scenarios import six_step_run, workspace_resource_id
from sandbox.simulation.world import DayPlan, generate
from sandbox.timeutil import parse_datetime
from shared.azure.arm import Arm
from shared.azure.run_history import RunHistory
from shared.azure.run_models import StepList, StepRun
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget
from tests.sandbox.aml_wire import AudienceCredential


def _life_in_rows(rows: list[dict[str, Any]]) -> dict[str, tuple[str, datetime | None, datetime]]:
    """Run id -> (latest status, first Running time, latest time), from AmlRunStatusChangedEvent rows."""
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_run[row["RunId"]].append(row)
    life = {}
    for run_id, seen in by_run.items():
        seen.sort(key=lambda row: parse_datetime(row["TimeGenerated"]))
        started = next((parse_datetime(r["TimeGenerated"]) for r in seen if r["Status"] == "Running"), None)
        life[run_id] = (seen[-1]["Status"], started, parse_datetime(seen[-1]["TimeGenerated"]))
    return life


def _client(sb: Sandbox) -> RunHistory:
    options = sb.aml_client_options()
    tokens = AudienceCredential()
    return RunHistory(
        tokens,
        Arm(tokens, endpoint=options["endpoint"]),
        api_hosts=options["api_hosts"],
        blob_hosts=options["blob_hosts"],
    )


def _workspace(name: str) -> Workspace:
    return Workspace.from_resource_id(workspace_resource_id(name), name)


def _steps(history: RunHistory, workspace: str, root: str) -> list[StepRun]:
    found = history.children(_workspace(workspace), root, Budget(30))
    assert isinstance(found, StepList) and found.complete, found
    return found.steps


def test_the_six_step_pipeline_agrees_over_the_wire(sb: Sandbox, logs: LogsQueryClient, t0: datetime) -> None:
    sb.add_pipeline(six_step_run("ws-prod", "pipe1", t0))
    result = logs.query_workspace(
        DEFAULT_WORKSPACE_ID, "AmlRunStatusChangedEvent | project RunId, Status, TimeGenerated", timespan=None
    )
    assert isinstance(result, LogsQueryResult)
    table = result.tables[0]
    life = _life_in_rows([dict(zip(table.columns, row, strict=True)) for row in table.rows])
    steps = _steps(_client(sb), "ws-prod", "pipe1")
    assert {s.run_id for s in steps} | {"pipe1"} == set(life)
    for step in steps:
        status, started, latest = life[step.run_id]
        assert (step.status, step.start) == (status, started)
        assert step.end == (latest if status in ("Completed", "Failed", "Canceled") else None)


def test_a_simulated_day_seeds_run_history_that_agrees_with_its_rows(sb: Sandbox) -> None:
    day = generate(DayPlan(hours=3, seed=11, fail_rate=0.3))
    sb.add_pipeline_runs(day.pipeline_runs)
    life = _life_in_rows(day.rows["AmlRunStatusChangedEvent"])
    after = day.end + timedelta(hours=2)
    seen = set()
    for pipeline in day.pipeline_runs:
        workspace = sb.aml.ensure_workspace(pipeline.workspace)
        for step in (None, *pipeline.steps):
            run = sandbox_history.run(workspace, pipeline, step, after)
            status, started, latest = life[run["runId"]]
            assert (run["status"], run["startTimeUtc"] and parse_datetime(run["startTimeUtc"])) == (status, started)
            assert run["endTimeUtc"] is None or parse_datetime(run["endTimeUtc"]) == latest
            assert (run["error"] is not None) == (step is not None and status == "Failed")
            seen.add(run["runId"])
    assert seen == set(life)
    # The step each incident's ground truth names first is the earliest failure in run history too (over HTTPS).
    sb.set_clock(after)
    history = _client(sb)
    failing = [p for p in day.pipeline_runs if f"run-failure:{p.workspace}:{p.run_id}" in day.root_causes]
    assert len(failing) >= 5
    for pipeline in failing:
        steps = _steps(history, pipeline.workspace, pipeline.run_id)
        first = min((s for s in steps if s.status == "Failed"), key=lambda s: s.end or after)
        assert first.run_id == day.root_causes[f"run-failure:{pipeline.workspace}:{pipeline.run_id}"]


def test_run_history_has_the_first_failure_while_its_row_is_still_on_the_way(
    sb: Sandbox, logs: LogsQueryClient, t0: datetime
) -> None:
    pipeline: PipelineRun = six_step_run("ws-prod", "late", t0)
    tables = pipeline.tables()
    for row in tables["AmlRunStatusChangedEvent"] + tables["AmlComputeJobEvent"]:
        if row["RunId" if "RunId" in row else "JobName"] == "late_train" and row.get("Status", "Failed") == "Failed":
            row["_IngestedAt"] = row["TimeGenerated"] + timedelta(minutes=30)  # the train step's rows are late
    sb.add_tables(tables)
    sb.add_pipeline_runs([pipeline])
    sb.set_clock(t0 + timedelta(minutes=20))  # the pipeline failed at minute 15
    result = logs.query_workspace(
        DEFAULT_WORKSPACE_ID, 'AmlRunStatusChangedEvent | where Status == "Failed" | project RunId', timespan=None
    )
    assert isinstance(result, LogsQueryResult)
    assert sorted(row[0] for row in result.tables[0].rows) == ["late", "late_evaluate"]  # train's row: not yet
    steps = _steps(_client(sb), "ws-prod", "late")
    failed = sorted((s for s in steps if s.status == "Failed"), key=lambda s: s.end or t0)
    assert [(s.display_name, s.end) for s in failed] == [
        ("train_model", t0 + timedelta(minutes=12)),
        ("evaluate_model", t0 + timedelta(minutes=14)),
    ]
