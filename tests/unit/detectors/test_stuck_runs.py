"""Stuck runs: which limit applies, one incident per pipeline run, reminders and the finished notice (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.azure_ml import Workspace
from shared.detectors.stuck_run_query import RunState, run_states
from shared.detectors.stuck_runs import (
    KIND,
    find_stuck,
    follow_run_ids,
    incident_key,
    limit_for,
    open_incidents,
    stuck_run_notices,
)
from shared.rules import RulesError
from shared.rules.stuck_runs import AdaptiveLimit, StuckRunOverride, StuckRunRules
from shared.rules_yaml import parse_rules

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WS = Workspace("ws-prod", "sub", "rg")
RULES = StuckRunRules()  # what a team that sets nothing gets: queued 2 h, running 12 h, adaptive 3 x p95 of 5+


def run(
    run_id: str,
    status: str,
    *,
    root: str | None = None,
    first_seen: timedelta = timedelta(hours=1),
    running_for: timedelta | None = None,
    experiment: str = "train",
    baseline: tuple[int, timedelta] | None = None,
    workspace: Workspace = WS,
) -> RunState:
    """A run first seen `first_seen` ago, running for `running_for` (if it started)."""
    runs, p95 = baseline or (0, None)
    running_since = NOW - running_for if running_for is not None else None
    return RunState(
        run_id=run_id,
        parent_run_id=root or "",
        root_run_id=root or run_id,
        status=status,
        status_at=running_since or NOW - first_seen,
        first_seen=NOW - first_seen,
        running_since=running_since,
        workspace=workspace,
        experiment=experiment,
        baseline_runs=runs,
        baseline_p95=p95,
    )


def test_defaults_per_status_family_and_what_the_email_says_about_them():
    queued = run("p1", "Queued", first_seen=timedelta(hours=3))
    limit = limit_for(queued, RULES)
    assert (limit.allowed, limit.since, limit.reason) == (
        timedelta(hours=2),
        NOW - timedelta(hours=3),
        "default for queued runs: 2 h 00 min",
    )
    running = run("p2", "Running", first_seen=timedelta(hours=14), running_for=timedelta(hours=11))
    assert limit_for(running, RULES).since == NOW - timedelta(hours=11)  # the queue time is not running time
    assert [p.pipeline_run_id for p in find_stuck([queued, running], RULES, NOW)] == ["p1"]


def test_the_adaptive_limit_needs_enough_history_and_says_so():
    history = run(
        "p",
        "Running",
        first_seen=timedelta(hours=2),
        running_for=timedelta(hours=2),
        baseline=(8, timedelta(minutes=25)),
    )
    limit = limit_for(history, RULES)
    assert limit.allowed == timedelta(minutes=75)
    assert limit.reason == "adaptive: 3 x p95 25 min of 8 completed runs of train"
    assert [p.runs[0].limit.reason for p in find_stuck([history], RULES, NOW)] == [limit.reason]
    too_few = run("p", "Running", running_for=timedelta(hours=2), baseline=(4, timedelta(minutes=25)))
    assert limit_for(too_few, RULES).reason.startswith("default")
    quick = run("p", "Running", running_for=timedelta(minutes=20), baseline=(9, timedelta(minutes=2)))
    assert limit_for(quick, RULES).allowed == timedelta(minutes=30)  # the floor: log rows come late
    assert limit_for(history, StuckRunRules(adaptive=None)).allowed == timedelta(hours=12)


def test_a_long_pipeline_with_history_is_not_stuck_at_the_fixed_limit_and_neither_are_its_steps():
    pipeline = run(
        "p",
        "Running",
        first_seen=timedelta(hours=13),
        running_for=timedelta(hours=13),
        baseline=(10, timedelta(hours=10)),
    )
    long_step = run("p_train", "Running", root="p", running_for=timedelta(hours=12, minutes=30))
    queued_step = run("p_eval", "Queued", root="p", first_seen=timedelta(hours=3))
    [stuck] = find_stuck([pipeline, long_step, queued_step], RULES, NOW)
    assert [s.run.run_id for s in stuck.runs] == ["p_eval"]  # its queue time is still judged on its own


def test_overrides_by_workspace_experiment_and_step_name_first_match_wins():
    rules = StuckRunRules(
        overrides=(
            StuckRunOverride(step="train*", running=timedelta(minutes=30)),
            StuckRunOverride(experiment="nightly-*", running=timedelta(hours=20), adaptive=False),
            StuckRunOverride(workspace="ws-scratch", watch=False),
        )
    )
    step = run("a1b2", "Running", root="p", running_for=timedelta(minutes=40))
    assert limit_for(step, rules).reason.startswith("default")  # no step name known: the run id must match
    named = limit_for(step, rules, step_name="train_model")
    assert named.allowed == timedelta(minutes=30) and named.reason == "override 1 in the rules: running 30 min"
    assert limit_for(run("train_x", "Running", running_for=timedelta(hours=1)), rules).allowed == timedelta(
        hours=12
    )  # `step` never matches a pipeline run
    nightly = run(
        "p",
        "Running",
        experiment="nightly-retrain",
        running_for=timedelta(hours=1),
        baseline=(9, timedelta(minutes=10)),
    )
    assert limit_for(nightly, rules).allowed == timedelta(hours=20)
    assert limit_for(run("p", "Queued", experiment="nightly-x"), rules).allowed == timedelta(hours=2)
    scratch = run("p", "Queued", first_seen=timedelta(days=2), workspace=Workspace("WS-Scratch"))
    assert limit_for(scratch, rules) is None and find_stuck([scratch], rules, NOW) == []
    assert find_stuck([scratch], StuckRunRules(workspaces=("ws-prod",)), NOW) == []


def test_one_incident_per_pipeline_run_with_every_run_over_its_limit_pipeline_first():
    runs = [
        run("p", "Running", first_seen=timedelta(hours=13), running_for=timedelta(hours=13)),
        run("p_a", "Queued", root="p", first_seen=timedelta(hours=5)),
        run("p_b", "Running", root="p", running_for=timedelta(hours=12, minutes=5)),
        run("p_c", "Running", root="p", running_for=timedelta(hours=1)),
        run("q", "Queued", first_seen=timedelta(hours=2, minutes=1)),
    ]
    stuck = find_stuck(runs, RULES, NOW)
    assert [(p.pipeline_run_id, [s.run.run_id for s in p.runs]) for p in stuck] == [
        ("p", ["p", "p_a", "p_b"]),
        ("q", ["q"]),
    ]
    notices = stuck_run_notices(runs, RULES, NOW, recorded={})
    assert [(n.key, n.payload["notice"]) for n in notices] == [
        ("stuck-run:ws-prod:p", "stuck"),
        ("stuck-run:ws-prod:q", "stuck"),
    ]
    facts = notices[0].payload
    assert [r["run_id"] for r in facts["runs"]] == ["p", "p_a", "p_b"]
    assert facts["runs"][1] == {
        "run_id": "p_a",
        "parent_run_id": "p",
        "is_pipeline": False,
        "step_name": "",
        "status": "Queued",
        "status_since": (NOW - timedelta(hours=5)).isoformat(),
        "since": (NOW - timedelta(hours=5)).isoformat(),
        "limit_minutes": 120,
        "limit": "default for queued runs: 2 h 00 min",
        "over_since": (NOW - timedelta(hours=3)).isoformat(),
    }
    assert notices[0].labels == {"kind": KIND, "workspace": "ws-prod", "experiment": "train"}
    assert notices[0].due_at == NOW - timedelta(hours=3)


def test_the_same_rows_later_make_the_same_notice_so_nothing_is_sent_twice():
    runs = [run("p", "Queued", first_seen=timedelta(hours=3))]
    first = stuck_run_notices(runs, RULES, NOW, recorded={})
    later = stuck_run_notices(runs, RULES, NOW + timedelta(minutes=10), recorded={})
    assert [(n.key, n.payload) for n in first] == [(n.key, n.payload) for n in later]  # no "elapsed" that changes
    assert stuck_run_notices(runs, RULES, NOW, recorded={first[0].key: NOW}) == []


def test_a_reminder_every_repeat_every_while_it_stays_stuck():
    runs = [run("p", "Queued", first_seen=timedelta(hours=3))]
    recorded = {incident_key("ws-prod", "p"): NOW - timedelta(hours=1)}
    assert stuck_run_notices(runs, RULES, NOW, recorded) == []
    [reminder] = stuck_run_notices(runs, RULES, NOW + timedelta(hours=11), recorded)
    assert (reminder.key, reminder.payload["notice"], reminder.payload["reminder"]) == (
        "stuck-run:ws-prod:p:reminder:1",
        "reminder",
        1,
    )
    assert stuck_run_notices(runs, RULES, NOW + timedelta(hours=22, minutes=59), recorded)[0].key.endswith(":1")
    assert stuck_run_notices(runs, RULES, NOW + timedelta(hours=23), recorded)[0].key.endswith(":reminder:2")
    assert stuck_run_notices(runs, StuckRunRules(repeat_every=None), NOW + timedelta(days=3), recorded) == []


def test_a_finished_notice_says_how_it_ended_once_the_stuck_notice_was_recorded():
    key = incident_key("ws-prod", "p")
    ended = RunState(
        "p",
        "",
        "p",
        "Canceled",
        NOW - timedelta(minutes=5),
        NOW - timedelta(hours=9),
        NOW - timedelta(hours=8),
        WS,
        experiment="train",
    )
    [finished] = stuck_run_notices([ended], RULES, NOW, {key: NOW - timedelta(hours=5)})
    assert finished.key == f"{key}:finished"
    assert {k: finished.payload[k] for k in ("notice", "ended_status", "ran_minutes", "pipeline_run_id")} == {
        "notice": "finished",
        "ended_status": "Canceled",
        "ran_minutes": 535,
        "pipeline_run_id": "p",
    }
    assert stuck_run_notices([ended], RULES, NOW, {}) == []  # never reported stuck: no "finished" either
    done = {key: NOW - timedelta(hours=5), f"{key}:finished": NOW - timedelta(minutes=1)}
    assert stuck_run_notices([ended], RULES, NOW, done) == []


def test_the_pipeline_runs_to_follow_come_from_the_open_stuck_notices():
    recorded = {
        "stuck-run:ws-a:p1": NOW,
        "stuck-run:ws-a:p1:reminder:2": NOW,
        "stuck-run:ws-b:p2": NOW,
        "stuck-run:ws-b:p2:finished": NOW,
        "stuck-run:ws-c:run:with:colons": NOW,
        "run-failure:ws:x": NOW,
    }
    assert open_incidents(recorded) == {"stuck-run:ws-a:p1": NOW, "stuck-run:ws-c:run:with:colons": NOW}
    assert follow_run_ids(recorded) == ["p1", "run:with:colons"]


def test_rows_from_the_query_become_run_states():
    [state] = run_states(
        [
            {
                "RunId": "p_s",
                "ParentRunId": "p",
                "RootRunId": "p",
                "Status": "Running",
                "StatusAt": "2026-03-01T10:00:00Z",
                "FirstSeen": "2026-03-01T09:00:00Z",
                "RunningSince": "2026-03-01T10:00:00Z",
                "WorkspaceName": "ws-prod",
                "ResourceId": "/SUBSCRIPTIONS/SUB/RESOURCEGROUPS/RG/PROVIDERS/"
                "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/WS-PROD",
                "Experiment": "train",
                "RootStatus": "Running",
                "BaselineRuns": None,
                "BaselineP95Seconds": "None",
            },
            {"RunId": "", "StatusAt": "2026-03-01T10:00:00Z"},
        ]
    )
    assert (state.is_pipeline, state.is_running_family, state.family_since, state.baseline_p95) == (
        False,
        True,
        datetime(2026, 3, 1, 10, tzinfo=UTC),
        None,
    )
    assert state.workspace == Workspace("ws-prod", "sub", "RG")


def _rules_error(text: str) -> str:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "team/rules.yaml")
    return str(error.value)


def test_the_stuck_runs_section_is_checked_with_file_and_line():
    assert parse_rules("stuck_runs:\n  adaptive: null\n").stuck_runs.adaptive is None
    assert parse_rules("stuck_runs:\n  adaptive: {factor: 2}\n").stuck_runs.adaptive == AdaptiveLimit(factor=2)
    message = _rules_error("stuck_runs:\n  running: PT12H\n  lookback: PT6H\n")
    assert (
        "team/rules.yaml:1: stuck_runs: Value error, a limit of PT12H is never reached inside the lookback of PT6H"
    ) in message
    message = _rules_error("stuck_runs:\n  overrides:\n    - {running: PT1H}\n    - {step: x, runing: PT1H}\n")
    assert "team/rules.yaml:3: stuck_runs.overrides[0]: Value error, give at least one of workspace" in message
    assert "team/rules.yaml:4: stuck_runs.overrides[1].runing: unknown key 'runing': did you mean 'running'?" in message
    assert "stuck_runs.adaptive.factor: Input should be greater than or equal to 1" in _rules_error(
        "stuck_runs:\n  adaptive:\n    factor: 0.5\n"
    )
