"""The failed-pipeline email's recent-history line, end to end: the app's real run-history client over HTTPS
against the sandbox (earlier runs of the same experiment seeded as pipeline models: their Log Analytics rows and
run history agree), Azurite for state, ACS's stand-in for the email. Earlier runs started days ago, before the
first scan's lookback, so only the latest failure is emailed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sandbox.pipeline_runs import PipelineRun, Transition
from sandbox.scenarios import six_step_run


def _succeeded(run: PipelineRun) -> PipelineRun:
    """The same pipeline run, every step and the run itself completed."""

    def completed(transitions: tuple[Transition, ...]) -> tuple[Transition, ...]:
        start = transitions[0].at
        return (Transition("Running", start), Transition("Completed", start + timedelta(minutes=3)))

    steps = tuple(replace(step, transitions=completed(step.transitions), error=None) for step in run.steps)
    return replace(run, transitions=completed(run.transitions), steps=steps)


def _earlier_runs(sandbox, outcomes: str) -> None:
    """One earlier run a day apart per letter, oldest first: F failed, S succeeded."""
    for days, outcome in enumerate(reversed(outcomes), start=1):
        run = six_step_run("ws-prod", f"earlier{days}", sandbox.now - timedelta(days=days))
        sandbox.add_pipeline(run if outcome == "F" else _succeeded(run))


def _email_text(sandbox) -> tuple[str, str]:
    [email] = sandbox.emails
    return email["content"]["plainText"], email["content"]["html"]


def test_the_email_says_how_the_experiments_earlier_runs_ended(sandbox, make_app):
    _earlier_runs(sandbox, "SSFSFSSFSSSS")  # the last 10: S F S F S S F S S S (3 failed)
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    make_app().scan("run-failures", sandbox.now)

    text, html = _email_text(sandbox)
    line = "Before this run, 3 of the last 10 finished pipeline runs of this experiment failed."
    assert f"Recent history: {line}" in text
    assert text.index("Recent history:") < text.index("ROOT CAUSE:")  # beside the root cause
    assert line in html


def test_too_little_history_says_nothing(sandbox, make_app):
    _earlier_runs(sandbox, "FS")  # two earlier runs: too few to say anything
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    make_app().scan("run-failures", sandbox.now)

    text, html = _email_text(sandbox)
    assert "ROOT CAUSE: train_model" in text  # run history answered
    assert "Recent history" not in text and "Before this run" not in html


def test_recent_history_refused_says_nothing_and_the_email_goes(sandbox, make_app):
    _earlier_runs(sandbox, "SSFSF")
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.fail_service("runhistory", 403, workspace="ws-prod")
    make_app().scan("run-failures", sandbox.now)

    text, _ = _email_text(sandbox)
    assert "Recent history" not in text
