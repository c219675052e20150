"""One email per incident even when ACS's answer, its status poll or the instance itself fails after ACS accepted
the send: the outbox asks ACS for the operation it recorded before sending anything again (real SDK clients,
Azurite, the sandbox's ACS with its repeatable requests and faults).

Each test checks what on-call receives first (the emails ACS accepted and delivered), then the outbox's state."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest

import function_app
from sandbox.scenarios import six_step_pipeline, status_row
from sandbox.simulation.crashes import DyingEmail, InstanceDied
from shared.outbox import Status

SUBJECT = "[AML] Pipeline failed: churn-model-training in ws-prod (root cause pipe1_train)"
ALERT = Path(__file__).resolve().parents[1] / "data" / "alerts" / "resource-health.json"


def _failed_pipeline(sandbox, root="pipe1"):
    sandbox.add_tables(six_step_pipeline("ws-prod", root, sandbox.now - timedelta(minutes=30)))


def _delivered(sandbox):
    """What on-call received: accepted sends whose operation did not fail."""
    return [email["content"]["subject"] for email in sandbox.emails if email["status"] == "Succeeded"]


def _later(sandbox, app, minutes=10):
    sandbox.advance(timedelta(minutes=minutes))
    return app.deliver_outbox(sandbox.now)


def _dying_app(make_app, **options):
    app = make_app()
    app.email = DyingEmail(app.email, dies=lambda: True, **options)
    return app


def test_a_status_poll_failing_after_acs_accepted_sends_no_second_email(sandbox, make_app, state):
    _failed_pipeline(sandbox)
    sandbox.fail_next("email-status", 500, count=3)  # every try of the poll (the SDK retries twice)
    make_app().scan_run_failures(sandbox.now)
    [record] = state.incidents()
    _later(sandbox, make_app())
    _later(sandbox, make_app())
    assert _delivered(sandbox) == [SUBJECT]
    assert record.status is Status.ACCEPTED and record.operation_id == sandbox.emails[0]["operation_id"]
    [record] = state.incidents()
    assert (record.status, record.attempts) == (Status.SENT, 1)


def test_an_instance_dying_after_acs_accepted_sends_no_second_email(sandbox, make_app, state):
    _failed_pipeline(sandbox)
    with pytest.raises(InstanceDied):
        _dying_app(make_app).scan_run_failures(sandbox.now)
    [record] = state.incidents()
    early = _later(sandbox, make_app(), minutes=2)  # the lease has not expired yet
    late = _later(sandbox, make_app(), minutes=5)  # it has: ACS is asked about the operation, not sent to again
    _later(sandbox, make_app())
    assert _delivered(sandbox) == [SUBJECT]
    assert record.status is Status.SENDING and record.operation_id  # recorded before the send; the outcome not
    assert (early.sent, late.sent, late.confirmed) == (0, 0, 1)
    assert state.incidents()[0].status is Status.SENT


def test_a_lost_answer_is_settled_by_asking_acs_not_by_sending_again(sandbox, make_app, state):
    _failed_pipeline(sandbox)
    sandbox.lose_email_answer_next()  # accepted; the connection is cut before the 202 arrives
    first = make_app().scan_run_failures(sandbox.now)
    [record] = state.incidents()
    _later(sandbox, make_app())
    assert _delivered(sandbox) == [SUBJECT]
    assert (first.delivery.sent, first.delivery.retrying) == (0, 1)
    assert record.status is Status.PENDING and record.operation_id  # in doubt: the operation is kept
    assert state.incidents()[0].status is Status.SENT


def test_the_sdk_retrying_a_send_whose_answer_was_lost_gets_the_first_answer(sandbox, make_app, state):
    _failed_pipeline(sandbox)
    sandbox.lose_email_answer_next(status=504)  # accepted, then the gateway times out; the SDK sends again
    report = make_app().scan_run_failures(sandbox.now)
    assert _delivered(sandbox) == [SUBJECT]
    assert report.delivery.sent == 1 and sandbox.email.repeats_answered == 1  # the repeat got the first 202
    assert state.incidents()[0].status is Status.SENT


def test_a_digest_in_doubt_is_settled_as_a_whole_even_when_the_grouping_changes(sandbox, make_app, rules, state):
    rules("storm_limit: 2\n")
    app = make_app()
    app.scan_run_failures(sandbox.now)
    sandbox.advance(timedelta(minutes=20))
    _storm(sandbox, range(3))
    sandbox.lose_email_answer_next()
    app.scan_run_failures(sandbox.now)  # one digest of three; its answer lost
    sandbox.advance(timedelta(minutes=10))
    _storm(sandbox, range(3, 4))  # a fourth: the storm is over, it goes alone
    report = app.scan_run_failures(sandbox.now)
    assert [subject.split(": ")[0] for subject in _delivered(sandbox)] == ["[AML] 3 alerts at once",
                                                                           "[AML] Pipeline failed"]
    assert (report.delivery.confirmed, report.delivery.sent, report.delivery.emails) == (3, 1, 1)
    assert {r.status for r in state.incidents()} == {Status.SENT}


def test_the_webhook_returns_once_acs_accepted_and_the_outbox_confirms_later(sandbox, app_settings, state):
    webhook = function_app.alert_webhook.build().get_user_function()
    document = json.loads(ALERT.read_text())
    document["data"]["essentials"]["firedDateTime"] = sandbox.now.isoformat()
    response = webhook(func.HttpRequest("POST", "/api/alerts", body=json.dumps(document).encode(),
                                        headers={"Content-Type": "application/json"}))
    assert sandbox.email.status_reads == 0  # no polling inside the request
    assert (response.status_code, json.loads(response.get_body())["sent"]) == (200, 1)
    [record] = state.incidents()
    assert record.status is Status.ACCEPTED
    from shared.entrypoints import alerting_app

    assert _later(sandbox, alerting_app(), minutes=2).confirmed == 1
    assert len(_delivered(sandbox)) == 1 and state.incidents()[0].status is Status.SENT


def test_a_failed_operation_after_the_webhook_returned_is_really_sent_again(sandbox, app_settings, state):
    from shared.entrypoints import alerting_app

    sandbox.fail_email_operation_next()
    document = json.loads(ALERT.read_text())
    document["data"]["essentials"]["firedDateTime"] = sandbox.now.isoformat()
    alerting_app().receive_alert(json.dumps(document).encode(), {"Content-Type": "application/json"}, sandbox.now)
    assert _later(sandbox, alerting_app(), minutes=2).retrying == 1  # the outbox finds the operation Failed
    assert _later(sandbox, alerting_app(), minutes=5).sent == 1
    first, second = sandbox.emails
    assert (first["status"], second["status"]) == ("Failed", "Succeeded")
    assert first["operation_id"] != second["operation_id"]
    assert state.incidents()[0].status is Status.SENT


def test_a_send_acs_never_received_is_sent_under_a_new_operation(sandbox, make_app, state):
    _failed_pipeline(sandbox)
    with pytest.raises(InstanceDied):
        _dying_app(make_app, before_send=True).scan_run_failures(sandbox.now)
    recorded = state.incidents()[0].operation_id
    report = _later(sandbox, make_app())  # ACS answers 404 for the recorded operation: it never arrived
    assert _delivered(sandbox) == [SUBJECT]
    assert (report.sent, report.confirmed) == (1, 0)
    assert sandbox.emails[0]["operation_id"] != recorded and state.incidents()[0].status is Status.SENT


def _storm(sandbox, numbers):
    for i in numbers:
        sandbox.add_rows("AmlRunStatusChangedEvent", [
            status_row("ws-prod", f"p{i:02}_s", f"p{i:02}", f"p{i:02}", "Failed", sandbox.now - timedelta(minutes=3)),
            status_row("ws-prod", f"p{i:02}", "", f"p{i:02}", "Failed", sandbox.now - timedelta(minutes=2)),
        ])
