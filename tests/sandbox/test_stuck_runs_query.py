"""The stuck-runs KQL, executed by the sandbox's Log Analytics (duckdb-kql) through the real LogsQueryClient over
seeded rows, and its answer read by the pure evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox
from sandbox.scenarios import status_row
from shared.detectors.stuck_run_query import run_states, stuck_runs_query
from shared.detectors.stuck_runs import follow_run_ids, incident_key, stuck_run_notices
from shared.rules.stuck_runs import StuckRunRules

WS = "ws-prod"


def _answer(logs: LogsQueryClient, kql: str) -> list[dict[str, Any]]:
    result = logs.query_workspace(DEFAULT_WORKSPACE_ID, kql, timespan=None)
    tables = result.partial_data if isinstance(result, LogsQueryPartialResult) else result.tables
    return [dict(zip(table.columns, row, strict=True)) for table in tables for row in table.rows]


def _pipeline(root: str, statuses: list[tuple[str, str, datetime]]) -> list[dict[str, Any]]:
    return [status_row(WS, run, root if run != root else "", root, status, at) for run, status, at in statuses]


def _compute_job(run_id: str, experiment: str, at: datetime) -> dict[str, Any]:
    return {"JobName": run_id, "ExperimentName": experiment, "EventType": "JobSucceeded", "TimeGenerated": at}


def seed(sb: Sandbox, now: datetime) -> None:
    rows, jobs = [], []
    for i in range(6):  # a history of six completed `train` pipelines of 20-25 minutes
        start = now - timedelta(days=2, hours=i)
        rows += _pipeline(
            f"h{i}",
            [
                (f"h{i}", "Running", start),
                (f"h{i}_s", "Running", start),
                (f"h{i}_s", "Completed", start + timedelta(minutes=19 + i)),
                (f"h{i}", "Completed", start + timedelta(minutes=20 + i)),
            ],
        )
        jobs.append(_compute_job(f"H{i}_S", "train", start + timedelta(minutes=1)))  # another case: still joined
    started = now - timedelta(hours=2)
    rows += _pipeline(
        "P",
        [
            ("P", "NotStarted", started),
            ("P", "Running", started + timedelta(minutes=1)),
            ("P_s", "Queued", started + timedelta(minutes=2)),
            ("P_s", "Running", started + timedelta(minutes=9)),
        ],
    )
    jobs.append(_compute_job("P_s", "train", started + timedelta(minutes=9)))
    rows += _pipeline("Q", [("Q", "Queued", now - timedelta(hours=3))])  # serverless: no compute job, no experiment
    rows += _pipeline(
        "F",
        [
            ("F", "Running", now - timedelta(hours=5)),  # its never-started step is not stuck
            ("F_late", "NotStarted", now - timedelta(hours=5)),
            ("F", "Failed", now - timedelta(hours=4)),
        ],
    )
    rows += _pipeline(
        "D", [("D", "Running", now - timedelta(hours=15)), ("D", "Completed", now - timedelta(minutes=9))]
    )
    rows += _pipeline("old", [("old", "Running", now - timedelta(days=9))])  # before the lookback: out of sight
    sb.add_rows("AmlRunStatusChangedEvent", rows)
    sb.add_rows("AmlComputeJobEvent", jobs)


def test_the_query_finds_the_stuck_runs_their_history_and_the_end_of_a_followed_one(sb, logs, clock):
    seed(sb, clock)
    rules = StuckRunRules()
    recorded = {incident_key(WS, "D"): clock - timedelta(hours=2)}  # D was reported stuck earlier
    kql = stuck_runs_query(clock - rules.lookback, clock, follow_run_ids(recorded))
    states = {state.run_id: state for state in run_states(_answer(logs, kql))}

    assert sorted(states) == ["D", "P", "P_s", "Q"]
    pipeline = states["P"]
    assert (pipeline.status, pipeline.experiment, pipeline.baseline_runs, pipeline.baseline_p95) == (
        "Running",
        "train",
        6,
        timedelta(minutes=25),
    )
    assert pipeline.first_seen == clock - timedelta(hours=2)
    assert states["P_s"].running_since == clock - timedelta(minutes=111)
    assert states["P_s"].family_since == clock - timedelta(minutes=111) and states["P_s"].experiment == "train"
    assert (states["Q"].experiment, states["Q"].baseline_runs, states["D"].status) == ("", 0, "Completed")

    notices = {notice.key: notice.payload for notice in stuck_run_notices(states.values(), rules, clock, recorded)}
    assert sorted(notices) == ["stuck-run:ws-prod:D:finished", "stuck-run:ws-prod:P", "stuck-run:ws-prod:Q"]
    assert [r["run_id"] for r in notices["stuck-run:ws-prod:P"]["runs"]] == ["P"]  # the step: judged via P
    assert notices["stuck-run:ws-prod:P"]["runs"][0]["limit"] == (
        "adaptive: 3 x p95 25 min of 6 completed runs of train"
    )
    assert notices["stuck-run:ws-prod:Q"]["runs"][0]["limit"] == "default for queued runs: 2 h 00 min"
    assert (
        notices["stuck-run:ws-prod:D:finished"]["ended_status"],
        notices["stuck-run:ws-prod:D:finished"]["ran_minutes"],
    ) == ("Completed", 891)


def test_a_workspace_without_compute_job_events_still_gets_its_stuck_runs(sb, logs, clock):
    sb.add_rows("AmlRunStatusChangedEvent", _pipeline("Q", [("Q", "Queued", clock - timedelta(hours=3))]))
    states = run_states(_answer(logs, stuck_runs_query(clock - timedelta(days=7), clock)))
    assert [(s.run_id, s.status, s.experiment) for s in states] == [("Q", "Queued", "")]
