"""Stuck runs end to end: the scan_stuck_runs timer over the sandbox (Log Analytics rows and run history of one
pipeline model), the outbox in Azurite, emails through the sandbox's ACS: one "stuck" email, a reminder after
`repeat_every`, an "ended" email once the run finishes, and nothing twice."""

from __future__ import annotations

from datetime import timedelta

from azure.functions.timer import TimerRequest

import function_app
from sandbox.scenarios import stuck_run

RULES = "stuck_runs:\n  running: PT2H\n  queued: PT1H\n  repeat_every: PT6H\n  adaptive: null\n"


def _subjects(sandbox):
    return [email["content"]["subject"] for email in sandbox.emails]


def test_a_stuck_pipeline_is_emailed_once_with_step_names_then_its_end(sandbox, make_app, rules):
    rules(RULES)
    ends = sandbox.now + timedelta(hours=1)
    sandbox.add_pipeline(stuck_run("ws-prod", "hung1", sandbox.now - timedelta(hours=3), ends, "Canceled"))
    app = make_app()

    app.scan("stuck-runs", sandbox.now)
    app.scan("stuck-runs", sandbox.now + timedelta(seconds=1))

    [email] = sandbox.emails
    content = email["content"]
    assert content["subject"] == ("[AML] Stuck pipeline: hung1 in ws-prod, Running over its 2 h 00 min limit")
    text = content["plainText"]
    assert "train_model (step hung1_train)" in text  # its display name, from run history
    assert "Which limit: default for running runs: 2 h 00 min" in text
    assert "https://ml.azure.com/runs/hung1?wsid=" in content["html"]
    assert "prep" not in text  # the step that completed is not stuck

    for minutes in (10, 20):  # still stuck, before a reminder is due: nothing new
        sandbox.advance(timedelta(minutes=minutes))
        app.scan("stuck-runs", sandbox.now)
    assert len(sandbox.emails) == 1

    sandbox.set_clock(ends + timedelta(minutes=5))  # it was cancelled: one "ended" email, how it ended
    app.scan("stuck-runs", sandbox.now)
    app.scan("stuck-runs", sandbox.now + timedelta(minutes=10))
    assert _subjects(sandbox)[1:] == ["[AML] Stuck pipeline ended: hung1 in ws-prod Canceled after 4 h 00 min"]
    assert "Ended:      Canceled at " in sandbox.emails[1]["content"]["plainText"]


def test_a_run_that_stays_stuck_gets_one_reminder_per_period(sandbox, make_app, rules):
    rules(RULES)
    sandbox.add_pipeline(stuck_run("ws-prod", "hung2", sandbox.now - timedelta(hours=3)))
    app = make_app()
    app.scan("stuck-runs", sandbox.now)
    start = sandbox.now
    for hours in (2, 4, 6, 7, 11, 12.5):
        sandbox.set_clock(start + timedelta(hours=hours))
        app.scan("stuck-runs", sandbox.now)
    assert [subject.split(":")[0] for subject in _subjects(sandbox)] == [
        "[AML] Stuck pipeline",
        "[AML] Still stuck (reminder 1)",
        "[AML] Still stuck (reminder 2)",
    ]


def test_the_timer_function_runs_the_check_and_survives_run_history_being_down(sandbox, app_settings, rules):
    rules(RULES)
    sandbox.add_pipeline(stuck_run("ws-prod", "hung3", sandbox.now - timedelta(hours=3)))
    sandbox.fail_service("runhistory", 503)
    sandbox.fail_service("discovery", 503)

    function_app.scan_stuck_runs.build().get_user_function()(TimerRequest(past_due=False))

    [email] = sandbox.emails
    assert "hung3_train (step hung3_train)" in email["content"]["plainText"]  # no name: its run id


def test_nothing_is_sent_for_runs_within_their_limits(sandbox, make_app, rules):
    rules(RULES)
    sandbox.add_pipeline(stuck_run("ws-prod", "young", sandbox.now - timedelta(minutes=90)))
    make_app().scan("stuck-runs", sandbox.now)
    assert sandbox.emails == []
