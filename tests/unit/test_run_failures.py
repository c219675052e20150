"""Grouping and root cause: plain functions over rows, no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.scenarios import six_step_pipeline, status_row
from shared.run_failures import (
    ERROR_TEXT_LIMIT,
    STEP_LIMIT,
    events_from_rows,
    group_pipeline_failures,
    incident_from_payload,
    incident_payload,
    read_events,
)

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _query_rows(tables):
    """What the run-failures query returns: the latest status per run, joined with the job's error text."""
    latest = {}
    for row in tables["AmlRunStatusChangedEvent"]:
        if row["RunId"] not in latest or row["TimeGenerated"] >= latest[row["RunId"]]["TimeGenerated"]:
            latest[row["RunId"]] = row
    jobs = {row["JobName"]: row for row in tables["AmlComputeJobEvent"]}
    rows = []
    for run_id, row in latest.items():
        job = jobs.get(run_id, {})
        rows.append({
            **{k: row[k] for k in ("RunId", "ParentRunId", "RootRunId", "Status", "Message", "WorkspaceName",
                                   "TimeGenerated")},
            "ResourceId": row["_ResourceId"],
            "JobErrorMessage": job.get("JobErrorMessage"),
            "ErrorDetails": job.get("ErrorDetails"),
            "ExperimentName": job.get("ExperimentName"),
            "ClusterName": job.get("ClusterName"),
        })
    return rows


def test_six_step_pipeline_is_one_incident_with_the_true_root_cause_first():
    rows = _query_rows(six_step_pipeline("ws-prod", "pipe1", START))
    [incident] = group_pipeline_failures(events_from_rows(rows))
    assert incident.pipeline_run_id == "pipe1"
    assert incident.pipeline_status == "Failed"
    assert incident.experiment == "churn-model-training"
    assert incident.root_cause.run_id == "pipe1_train"
    assert "Input contains NaN" in incident.root_cause.error
    assert incident.root_cause.cluster == "gpu-cluster"
    assert [(s.run_id, s.status) for s in incident.downstream] == [
        ("pipe1_evaluate", "Failed"),
        ("pipe1_deploy", "Canceled"),
        ("pipe1_register", "Canceled"),
        ("pipe1_report", "NotStarted"),
    ]
    assert incident.other_steps == 1  # prep completed
    assert incident.workspace.resource_group == "RG-ML-PROD"
    assert incident.is_settled


def test_a_failed_parent_is_not_the_root_cause_of_its_failed_child():
    at = START
    rows = [
        status_row("ws", "sub", "p", "p", "Failed", at + timedelta(minutes=1)),  # nested pipeline, logged first
        status_row("ws", "leaf", "sub", "p", "Failed", at + timedelta(minutes=2)),
        status_row("ws", "p", "", "p", "Failed", at + timedelta(minutes=3)),
    ]
    [incident] = group_pipeline_failures(events_from_rows([{**r, "ResourceId": r["_ResourceId"]} for r in rows]))
    assert incident.root_cause.run_id == "leaf"
    assert [s.run_id for s in incident.downstream] == ["sub"]


def test_a_pipeline_that_fails_before_any_step_names_itself():
    row = status_row("ws", "p", "", "p", "Failed", START, "Graph validation failed: missing input 'data'")
    [incident] = group_pipeline_failures(events_from_rows([{**row, "ResourceId": row["_ResourceId"]}]))
    assert incident.root_cause.run_id == "p"
    assert "Graph validation failed" in incident.root_cause.error


def test_cancelled_pipelines_without_failures_are_not_incidents():
    rows = [status_row("ws", "p_a", "p", "p", "Canceled", START), status_row("ws", "p", "", "p", "Canceled", START)]
    assert group_pipeline_failures(events_from_rows([{**r, "ResourceId": r["_ResourceId"]} for r in rows])) == []


def test_two_pipelines_and_two_workspaces_stay_apart():
    rows = (
        _query_rows(six_step_pipeline("ws-a", "p1", START))
        + _query_rows(six_step_pipeline("ws-b", "p1", START + timedelta(minutes=1)))
        + _query_rows(six_step_pipeline("ws-a", "p2", START + timedelta(minutes=2)))
    )
    incidents = group_pipeline_failures(events_from_rows(rows))
    found = [(i.workspace.name, i.pipeline_run_id) for i in incidents]
    assert found == [("ws-a", "p1"), ("ws-b", "p1"), ("ws-a", "p2")]
    assert len({i.key for i in incidents}) == 3


def test_error_text_and_step_list_are_capped():
    rows = [status_row("ws", "p_cause", "p", "p", "Failed", START, "x" * 10_000)]
    rows += [status_row("ws", f"p_{i:03}", "p", "p", "Canceled", START + timedelta(minutes=1)) for i in range(200)]
    [incident] = group_pipeline_failures(events_from_rows([{**r, "ResourceId": r["_ResourceId"]} for r in rows]))
    assert len(incident.root_cause.error) == ERROR_TEXT_LIMIT
    assert len(incident.downstream) == STEP_LIMIT - 1
    assert incident.omitted_steps == 200 - (STEP_LIMIT - 1)


def test_sdk_null_strings_are_treated_as_empty():
    row = {**status_row("ws", "p", "None", "None", "Failed", START), "ResourceId": "None", "JobErrorMessage": "None"}
    [incident] = group_pipeline_failures(events_from_rows([row]))
    assert incident.pipeline_run_id == "p"
    assert incident.root_cause.error == ""


def test_payload_round_trip_preserves_the_incident():
    [incident] = group_pipeline_failures(events_from_rows(_query_rows(six_step_pipeline("ws", "p", START))))
    assert incident_from_payload(incident_payload(incident)) == incident


statuses = st.sampled_from(["Failed", "Canceled", "NotStarted", "Completed", "Running", "FAILED"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 30), statuses, st.integers(0, 600)), max_size=30))
def test_any_run_tree_gives_one_incident_per_failed_pipeline_with_a_failed_leaf_as_cause(runs):
    rows = []
    for index, (parent, status, seconds) in enumerate(runs):
        run_id = f"r{index}"
        parent_id = f"r{parent}" if 0 <= parent < index else "root"
        rows.append({**status_row("ws", run_id, parent_id, "root", status, START + timedelta(seconds=seconds)),
                     "ResourceId": ""})
    incidents = group_pipeline_failures(events_from_rows(rows))
    failed = [r for r in rows if r["Status"].lower() == "failed"]
    assert len(incidents) == (1 if failed else 0)
    if incidents:
        cause = incidents[0].root_cause
        assert cause.status.lower() == "failed"
        failed_children = {r["ParentRunId"] for r in failed}
        assert cause.run_id not in failed_children  # no failed child: the failure started here
        listed = {cause.run_id, *(s.run_id for s in incidents[0].downstream)}
        assert len(listed) == 1 + len(incidents[0].downstream)  # nobody listed twice


def test_a_pipeline_failure_seen_before_its_steps_waits_for_them():
    from shared.run_failures import STEP_DETAIL_WAIT, due_at

    root_only = {**status_row("ws", "p", "", "p", "Failed", START), "ResourceId": ""}
    [early] = group_pipeline_failures(events_from_rows([root_only]))
    assert due_at(early, timedelta(minutes=2)) == START + STEP_DETAIL_WAIT
    [complete] = group_pipeline_failures(events_from_rows(_query_rows(six_step_pipeline("ws", "p", START))))
    assert due_at(complete, timedelta(minutes=2)) == complete.failed_at  # settled, step known: at once


def test_rows_without_a_run_id_or_a_time_are_counted_not_dropped_silently():
    rows = _query_rows(six_step_pipeline("ws", "p", START))
    rows += [{**rows[0], "RunId": "x", "TimeGenerated": None}, {**rows[0], "RunId": None}]
    events, skipped = read_events(rows)
    assert len(events) == len(rows) - 2
    assert skipped == {"no TimeGenerated": 1, "no RunId": 1}


def test_a_huge_pipeline_keeps_a_small_fingerprint_of_its_runs():
    rows = [status_row("ws", f"step-{i:05d}", "p", "p", "Completed", START) for i in range(5000)]
    rows.append(status_row("ws", "p", "", "p", "Failed", START + timedelta(minutes=1)))
    [incident] = group_pipeline_failures(events_from_rows([{**r, "ResourceId": r["_ResourceId"]} for r in rows]))
    assert incident.runs_seen.startswith("5001 runs, ") and len(incident.runs_seen) < 60
