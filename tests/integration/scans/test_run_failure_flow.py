"""The run-failure scan end to end: real SDK clients, Azurite for state, the sandbox for Log Analytics and ACS."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from azure.functions.timer import TimerRequest

import function_app
from sandbox.scenarios import six_step_pipeline, status_row
from shared.outbox.records import Status
from tests.integration.conftest import RECIPIENT


def _subjects(sandbox):
    return [email["content"]["subject"] for email in sandbox.emails]


def test_the_timer_function_emails_one_failed_pipeline_once(sandbox, app_settings):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    scan = function_app.scan_run_failures.build().get_user_function()

    scan(TimerRequest(past_due=False))

    [email] = sandbox.emails
    assert email["recipients"]["to"] == [{"address": RECIPIENT}]
    assert email["content"]["subject"] == (
        "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"
    )
    text = email["content"]["plainText"]
    assert "ROOT CAUSE: step pipe1_train Failed on compute gpu-cluster" in text
    assert "ValueError: Input contains NaN" in text
    assert text.index("pipe1_train") < text.index("pipe1_evaluate")
    assert "https://ml.azure.com/runs/pipe1_train?wsid=" in email["content"]["html"]

    scan(TimerRequest(past_due=False))
    assert len(sandbox.emails) == 1


def test_rescans_and_later_ticks_send_nothing_more(sandbox, make_app):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    app = make_app()
    first = app.scan("run-failures", sandbox.now)
    assert (first.delivery.sent, first.scans[0].claimed) == (1, 1)
    for _ in range(3):
        sandbox.advance(timedelta(minutes=5))
        again = app.scan("run-failures", sandbox.now)
        assert again.delivery.sent == 0
    assert len(sandbox.emails) == 1


def test_two_instances_scanning_at_the_same_moment_send_one_email(sandbox, make_app):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    apps = [make_app(), make_app()]
    barrier = threading.Barrier(len(apps))
    reports = []

    def tick(app):
        barrier.wait()
        reports.append(app.scan("run-failures", sandbox.now))

    threads = [threading.Thread(target=tick, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sandbox.emails) == 1
    assert sum(report.delivery.sent for report in reports) == 1


def test_rows_ingested_after_a_scan_are_alerted_on_the_next_one(sandbox, make_app):
    app = make_app()
    app.scan("run-failures", sandbox.now)  # sets the watermark
    # The pipeline fails now, but Log Analytics makes the rows queryable only 20 minutes later.
    sandbox.add_tables(
        six_step_pipeline("ws-prod", "late", sandbox.now - timedelta(minutes=15), ingest_delay=timedelta(minutes=20))
    )
    sandbox.advance(timedelta(minutes=5))
    app.scan("run-failures", sandbox.now)
    assert sandbox.emails == []

    for _ in range(5):  # keep ticking every 5 minutes, as the timer does
        sandbox.advance(timedelta(minutes=5))
        app.scan("run-failures", sandbox.now)
    assert _subjects(sandbox) == ["[AML] Pipeline failed: churn-model-training in ws-prod (root cause late_train)"]


def test_acs_refusing_for_a_while_delays_the_email_but_sends_it_exactly_once(sandbox, make_app, state):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.fail_next("email", 429, count=3)  # all of the SDK's tries within the first attempt
    app = make_app()
    first = app.scan("run-failures", sandbox.now)
    assert (first.delivery.sent, first.delivery.retrying) == (0, 1)
    [record] = state.incidents.records()
    assert record.status is Status.PENDING and "429" in record.last_error

    sandbox.fail_next("email", 500, count=3)
    sandbox.advance(timedelta(minutes=1))
    assert app.deliver_outbox(sandbox.now).retrying == 1  # second attempt fails too

    sandbox.advance(timedelta(minutes=1))
    assert app.deliver_outbox(sandbox.now).sent == 0  # backing off: 2 minutes after the second failure
    sandbox.advance(timedelta(minutes=1))
    assert app.deliver_outbox(sandbox.now).sent == 1
    for _ in range(3):
        sandbox.advance(timedelta(minutes=10))
        app.scan("run-failures", sandbox.now)
    assert len(sandbox.emails) == 1
    [record] = state.incidents.records()
    assert (record.status, record.attempts, record.last_error) == (Status.SENT, 3, "")


def test_an_email_that_never_goes_through_ends_dead_with_an_error_log(sandbox, make_app, state, caplog):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.fail_next("email", 500, count=1000)
    app = make_app()
    with caplog.at_level(logging.ERROR):
        for _ in range(12):
            app.scan("run-failures", sandbox.now)
            sandbox.advance(timedelta(minutes=30))
    [record] = state.incidents.records()
    assert record.status is Status.DEAD and record.attempts == 4
    assert "Giving up on run-failure:ws-prod:pipe1 after 4 attempts" in caplog.text


def test_steps_failing_over_several_minutes_make_one_email_with_all_of_them(sandbox, make_app):
    root, start = "slow", sandbox.now - timedelta(minutes=1)
    sandbox.add_tables(
        {
            "AmlRunStatusChangedEvent": [
                status_row("ws-prod", root, "", root, "Running", start),
                status_row("ws-prod", f"{root}_a", root, root, "Failed", start + timedelta(seconds=30), "a failed"),
            ]
        }
    )
    app = make_app()
    assert app.scan("run-failures", sandbox.now).delivery.sent == 0  # still running: wait for the group

    sandbox.advance(timedelta(seconds=60))
    sandbox.add_rows(
        "AmlRunStatusChangedEvent",
        [
            status_row("ws-prod", f"{root}_b", root, root, "Failed", sandbox.now, "b failed"),
        ],
    )
    assert app.scan("run-failures", sandbox.now).delivery.sent == 0

    sandbox.advance(timedelta(minutes=2))
    assert app.scan("run-failures", sandbox.now).delivery.sent == 1
    [email] = sandbox.emails
    assert "ROOT CAUSE: step slow_a Failed" in email["content"]["plainText"]
    assert "slow_b: Failed" in email["content"]["plainText"]


def test_a_partial_result_is_used_but_read_again_next_time(sandbox, make_app, state):
    app = make_app()
    app.scan("run-failures", sandbox.now)
    sandbox.advance(timedelta(minutes=20))
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=16)))
    watermark = state.scans.get_watermark("run-failures", app.settings.workspace_ids[0])
    sandbox.fail_next_partial()
    report = app.scan("run-failures", sandbox.now)
    assert report.scans[0].complete is False
    assert state.scans.get_watermark("run-failures", app.settings.workspace_ids[0]) == watermark
    sandbox.advance(timedelta(minutes=5))
    assert app.scan("run-failures", sandbox.now).scans[0].complete
    assert len(sandbox.emails) == 1
