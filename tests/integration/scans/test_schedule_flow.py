"""Missed schedules end to end: the schedules check reads the Azure ML schedules and jobs from the sandbox's ARM
(real wire format, paging), judges each fire time, and emails through the outbox in Azurite: one email per missed
fire time, one notice for a disabled schedule however many ticks see it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.timer import TimerRequest

import function_app
from sandbox import arm
from sandbox.aml_rows import workspace_resource_id
from sandbox.scenarios import stuck_run

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # no DST change near: W. Europe is UTC+1
NIGHTLY = arm.cron_trigger("0 2 * * *", "W. Europe Standard Time")


@pytest.fixture
def workspace(sandbox, monkeypatch):
    sandbox.set_clock(NOW)
    monkeypatch.setenv("AML_WORKSPACE_IDS", workspace_resource_id("ws-prod"))
    return "ws-prod"


def _scheduled_run(sandbox, schedule: str, fired: datetime) -> None:
    run = stuck_run("ws-prod", f"{schedule}-{fired:%m%d}", fired + timedelta(seconds=20), fired + timedelta(hours=1))
    sandbox.add_pipeline_runs([replace(run, schedule=schedule, display_name=f"{schedule}-{fired:%Y%m%dT%H%M%SZ}")])


def test_a_missed_nightly_run_is_emailed_once_with_its_expected_time_and_last_run(sandbox, workspace, make_app):
    sandbox.add_schedule(workspace, "nightly-retrain", NIGHTLY, created_at=NOW - timedelta(days=5))
    _scheduled_run(sandbox, "nightly-retrain", datetime(2026, 3, 9, 1, 0, tzinfo=UTC))  # last night's ran
    app = make_app()

    for hours in (0, 1, 5):
        app.scan("schedules", NOW + timedelta(hours=hours))

    [email] = sandbox.emails
    content = email["content"]
    assert content["subject"] == (
        "[AML] Schedule nightly-retrain in ws-prod did not run at 2026-03-10 02:00 W. Europe Standard Time"
    )
    text = content["plainText"]
    assert "Expected:   2026-03-10 02:00 (W. Europe Standard Time)\n            2026-03-10 01:00:00 UTC" in text
    assert "Last run it created: nightly-retrain-20260309T010000Z (Completed), created 2026-03-09 01:00:20 UTC" in text
    assert "cron 0 2 * * *" in text


def test_a_nightly_run_that_came_sends_nothing(sandbox, workspace, make_app):
    sandbox.add_schedule(workspace, "nightly-retrain", NIGHTLY, created_at=NOW - timedelta(days=5))
    _scheduled_run(sandbox, "nightly-retrain", datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    make_app().scan("schedules", NOW)
    assert sandbox.emails == []


def test_a_disabled_schedule_is_reported_once_not_every_tick_or_day(sandbox, workspace, make_app):
    sandbox.add_schedule(
        workspace,
        "nightly-retrain",
        NIGHTLY,
        created_at=NOW - timedelta(days=30),
        modified_at=NOW - timedelta(hours=3),
        enabled=False,
    )
    app = make_app()
    for tick in range(0, 3 * 24 * 4, 7):  # three days of 15-minute ticks (every 7th, to keep the test quick)
        app.scan("schedules", NOW + timedelta(minutes=15 * tick))
    [email] = sandbox.emails
    assert email["content"]["subject"] == "[AML] Schedule nightly-retrain in ws-prod was disabled"
    assert "reported once, not for every fire time" in email["content"]["plainText"]


def test_a_workspace_whose_schedules_cannot_be_read_reports_no_miss_and_is_read_next_tick(sandbox, workspace, make_app):
    sandbox.add_schedule(workspace, "nightly-retrain", NIGHTLY, created_at=NOW - timedelta(days=5))
    sandbox.fail_service("arm", 503)
    report = make_app().scan("schedules", NOW)
    assert report.scans[0].error and sandbox.emails == []
    sandbox.heal_service("arm")
    make_app().scan("schedules", NOW + timedelta(minutes=15))
    assert len(sandbox.emails) == 1


def test_the_timer_function_checks_the_schedules(sandbox, app_settings, monkeypatch):
    monkeypatch.setenv("AML_WORKSPACE_IDS", workspace_resource_id("ws-prod"))
    hourly = arm.cron_trigger("0 * * * *")
    sandbox.add_schedule("ws-prod", "hourly-scoring", hourly, created_at=sandbox.now - timedelta(hours=2))
    function_app.scan_schedules.build().get_user_function()(TimerRequest(past_due=False))
    subjects = [email["content"]["subject"] for email in sandbox.emails]
    # Two fire times in the last two hours, one or both past their 30 minutes of grace: an email each.
    assert 1 <= len(subjects) == len(set(subjects)) <= 2
    assert all(subject.startswith("[AML] Schedule hourly-scoring in ws-prod did not run at") for subject in subjects)
