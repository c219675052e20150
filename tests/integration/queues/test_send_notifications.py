"""Record, answer, send elsewhere: the webhook records and enqueues, `send_notifications` sends (the real functions,
Azurite's tables and queues, the sandbox's ACS Email, the local host loop for the Functions host)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
from azure.storage.queue import QueueClient

import function_app
from sandbox.scenarios import six_step_pipeline
from sandbox.table_gate import TableGate
from shared.core.log_markers import NOTICE_DEAD
from shared.entrypoints import alerting_app
from shared.outbox.records import Status

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "common-metric-alert.json"
webhook = function_app.alert_webhook.build().get_user_function()
deliver_outbox = function_app.deliver_outbox.build().get_user_function()


def _alert(alert_id: str = "/subscriptions/0000/providers/Microsoft.AlertsManagement/alerts/a-1") -> bytes:
    document = json.loads(SAMPLE.read_text())
    document["data"]["essentials"]["alertId"] = alert_id
    document["data"]["essentials"]["alertTargetIDs"] = []
    return json.dumps(document).encode()


def _post(body: bytes) -> tuple[int, dict]:
    response = webhook(func.HttpRequest("POST", "/api/alerts", body=body, headers={"Content-Type": "application/json"}))
    return response.status_code, json.loads(response.get_body())


def _records():
    return {record.key: record for record in alerting_app().incidents.records()}


def _notifications(storage: str) -> QueueClient:
    return QueueClient.from_connection_string(storage, "notifications")


def test_the_webhook_records_and_answers_and_the_queue_function_sends(sandbox, host):
    status, body = _post(_alert())
    assert (status, body["status"], body["queued"], body["sent"]) == (200, "processed", True, 0)
    assert sandbox.emails == []  # nothing sent, nothing polled inside the request
    [key] = body["incidents"]
    assert _records()[key].status is Status.PENDING

    assert host.drain() >= 1
    assert len(sandbox.emails) == 1
    assert _records()[key].status in (Status.ACCEPTED, Status.SENT)


def test_an_alert_about_failed_runs_is_looked_up_off_the_request_and_becomes_the_pipeline_email(sandbox, host):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    document = json.loads((SAMPLE.parent / "alerts" / "platform-static-aml-failed-runs.json").read_text())
    document["data"]["essentials"]["firedDateTime"] = sandbox.now.isoformat()
    window = {
        "windowStartTime": (sandbox.now - timedelta(minutes=15)).isoformat(),
        "windowEndTime": sandbox.now.isoformat(),
    }
    document["data"]["alertContext"]["condition"].update(window)
    status, body = _post(json.dumps(document).encode())
    assert (status, body["queued"]) == (200, True)
    assert sandbox.queries == []  # the request asked Log Analytics nothing
    [alert_key] = body["incidents"]

    host.drain()
    assert len(sandbox.queries) == 1  # the queue function did, once
    [email] = sandbox.emails
    assert email["content"]["subject"].startswith("[AML] Pipeline failed: churn-model-training in ws-prod")
    assert "Alert:         aml-failed-pipeline-runs (Sev2), fired" in email["content"]["plainText"]
    records = _records()
    assert records[alert_key].status is Status.REPLACED
    assert records["run-failure:ws-prod:pipe1"].status in (Status.ACCEPTED, Status.SENT)


def test_a_message_delivered_twice_sends_once(sandbox, host, queue_storage):
    _, _body = _post(_alert())
    queue = _notifications(queue_storage)
    [message] = queue.peek_messages()
    queue.send_message(message.content)  # the same message again (at-least-once delivery)
    host.drain(("notifications",))
    assert len(sandbox.emails) == 1
    assert host.tally.by_queue["notifications"] >= 2


def test_when_enqueueing_fails_after_the_record_the_outbox_timer_sends_it(sandbox, queued_settings, monkeypatch):
    # A queue endpoint where nothing listens: the message cannot be put (a real connection error).
    storage = queued_settings["AzureWebJobsStorage"]
    head, _, tail = storage.partition("QueueEndpoint=http://127.0.0.1:")
    monkeypatch.setenv("AzureWebJobsStorage", f"{head}QueueEndpoint=http://127.0.0.1:9{tail[tail.index('/') :]}")
    alerting_app.cache_clear()
    status, body = _post(_alert())
    assert (status, body["queued"]) == (200, True)
    assert sandbox.emails == []
    deliver_outbox(None)  # the safety net
    assert len(sandbox.emails) == 1
    assert _records()[body["incidents"][0]].status is Status.SENT


def test_a_failed_send_goes_back_on_the_queue_with_the_outbox_backoff(sandbox, host, queue_storage):
    sandbox.fail_next("email", 429, count=3)  # the first send and its two SDK retries
    _, body = _post(_alert())
    host.drain(("notifications",))
    [key] = body["incidents"]
    record = _records()[key]
    assert (record.status, record.attempts, len(sandbox.emails)) == (Status.PENDING, 1, 0)
    assert _notifications(queue_storage).get_queue_properties().approximate_message_count == 1  # hidden till due
    time.sleep(max(0.0, (record.due_at - datetime.now(UTC)).total_seconds()) + 1.2)
    host.drain(("notifications",))
    assert len(sandbox.emails) == 1
    assert _records()[key].attempts == 2


def test_a_message_that_fails_every_try_is_poisoned_and_the_timer_still_sends(
    sandbox, host, queued_settings, monkeypatch, caplog
):
    storage = queued_settings["AzureWebJobsStorage"]
    gate = TableGate(int(storage.split("TableEndpoint=http://127.0.0.1:")[1].split("/", 1)[0]))
    try:
        monkeypatch.setenv("AzureWebJobsStorage", gate.connection_string(storage))
        alerting_app.cache_clear()
        _, _body = _post(_alert())
        gate.close_gate()  # the table service is down for every try of the message
        with caplog.at_level(logging.ERROR):
            for _ in range(5):
                host.drain(("notifications",))
        assert host.tally.poisoned == 1 and len(host.poisoned("notifications")) == 1
        assert any(r.getMessage().startswith(NOTICE_DEAD) for r in caplog.records)
        gate.open_gate()
        assert sandbox.emails == []
        deliver_outbox(None)  # still pending (it could not be recorded dead): the safety net sends it
        assert len(sandbox.emails) == 1
    finally:
        gate.stop()


class _BrokenDelivery:
    """A delivery that fails with a bug (no stand-in exists for a bug in our own code: this is the one fake here)."""

    def deliver_named(self, keys, now):
        raise RuntimeError("a bug in the delivery")


def test_on_its_last_try_a_message_records_its_incidents_dead_with_the_error(sandbox, queued_settings, caplog):
    import pytest

    from shared.outbox.queued import NoticeQueue, send_notifications

    _, body = _post(_alert())
    [key] = body["incidents"]
    app = alerting_app()
    message = json.dumps({"keys": [key]}).encode()
    deps = {"delivery": _BrokenDelivery(), "store": app.incidents, "notices": NoticeQueue(app.queues)}
    with pytest.raises(RuntimeError):
        send_notifications(message, 4, datetime.now(UTC), **deps)
    assert _records()[key].status is Status.PENDING  # tries left: the host shows it again
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError):  # the host then moves it to the poison queue
        send_notifications(message, 5, datetime.now(UTC), **deps)
    record = _records()[key]
    assert record.status is Status.DEAD and "a bug in the delivery" in record.last_error
    assert any(r.getMessage().startswith(f"{NOTICE_DEAD} Giving up on {key}") for r in caplog.records)


def test_a_message_that_names_nothing_is_dropped(sandbox, host, queue_storage, caplog):
    from azure.storage.queue import TextBase64EncodePolicy

    queue = QueueClient.from_connection_string(
        queue_storage, "notifications", message_encode_policy=TextBase64EncodePolicy()
    )
    queue.create_queue()
    queue.send_message('{"keys": "not a list"}')
    queue.send_message("not json")
    with caplog.at_level(logging.ERROR):
        assert host.drain(("notifications",)) == 2
    assert host.tally.ran == 2 and host.tally.poisoned == 0
    assert sum("dropped a message that names nothing" in r.getMessage() for r in caplog.records) == 2
