"""The recent-history line's counting and wording: pipeline runs only, finished ones only, this run left out, and
nothing said when too little is known."""

from __future__ import annotations

from shared.azure.run_models import StepRun
from shared.enrich.recent_history import earlier_outcomes, history_line


def _run(run_id: str, status: str, parent: str = "") -> StepRun:
    """A run as `runs:query` lists it: a pipeline run (its own root) or one of its steps."""
    root = parent or run_id
    return StepRun.from_json({"runId": run_id, "status": status, "parentRunId": parent or None, "rootRunId": root})


def test_counts_only_finished_pipeline_runs_newest_first_without_this_run():
    runs = [
        _run("this", "Failed"),  # the run being emailed
        _run("next_step", "Failed", parent="newer"),  # a step: not a pipeline run
        _run("newer", "Running"),  # not finished: no outcome yet
        _run("r1", "Completed"),
        _run("r1_train", "Completed", parent="r1"),
        _run("r2", "Failed"),
        _run("r3", "Canceled"),
        _run("r4", "Completed"),
    ]
    assert earlier_outcomes(runs, "THIS", limit=3) == ["succeeded", "failed", "canceled"]


def test_the_line_counts_failures_of_the_runs_known():
    outcomes = ["succeeded", "failed", "succeeded", "failed", "succeeded", "succeeded", "failed", "succeeded"] + [
        "succeeded"
    ] * 2
    assert history_line(outcomes, min_runs=3) == (
        "Before this run, 3 of the last 10 finished pipeline runs of this experiment failed."
    )


def test_the_line_says_canceled_runs_apart_and_a_clean_record_plainly():
    assert history_line(["failed", "canceled", "succeeded", "succeeded"], min_runs=3) == (
        "Before this run, 1 of the last 4 finished pipeline runs of this experiment failed (1 more canceled)."
    )
    assert history_line(["succeeded"] * 5, min_runs=3) == (
        "Before this run, the last 5 finished pipeline runs of this experiment all succeeded."
    )


def test_too_few_earlier_runs_say_nothing():
    assert history_line([], min_runs=3) == ""
    assert history_line(["failed", "failed"], min_runs=3) == ""
    only_steps_and_this = [_run("this", "Failed"), _run("s1", "Failed", parent="x"), _run("x", "NotStarted")]
    assert history_line(earlier_outcomes(only_steps_and_this, "this", limit=10), min_runs=3) == ""
