"""Teams as a channel, end to end: a route with `channels: [email, teams:ml-oncall]`, the run-failure scan, the
outbox in Azurite, the card posted to the sandbox's Workflows webhook (validated there by Microsoft's
adaptivecards library). Each destination has its own outbox record: sent once, retried while Teams answers 429,
given up on after SEND_MAX_ATTEMPTS, independently of the email. The webhook URL's signature never reaches a log
record or a table."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from sandbox.scenarios import six_step_pipeline
from shared.outbox.records import Status

ROUTE = """routes:
  - match: {kind: run-failure}
    channels: [email, teams:ml-oncall]
    recipients: [ml-oncall@contoso.com]
"""


@pytest.fixture
def teams(sandbox, monkeypatch, rules, caplog, azurite_connection_string):
    """A Teams destination and the route to it; at the end, no log record and no table row holds its signature."""
    caplog.set_level(logging.DEBUG)
    url = sandbox.add_teams_webhook("ml-oncall")
    monkeypatch.setenv("TEAMS_WEBHOOK_ML_ONCALL", url)
    monkeypatch.setenv("SEND_MAX_ATTEMPTS", "8")
    rules(ROUTE)
    yield url
    secret = url.split("sig=")[1]
    assert [r.name for r in caplog.get_records("call") if secret in r.getMessage()] == []
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for table in service.list_tables():
        for entity in service.get_table_client(table.name).list_entities():
            assert secret not in json.dumps(dict(entity), default=str), table.name


def _fail_pipeline(sandbox):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))


def test_one_incident_reaches_email_and_teams_once_with_the_same_facts(sandbox, make_app, teams):
    _fail_pipeline(sandbox)
    app = make_app()
    app.scan("run-failures", sandbox.now)
    app.scan("run-failures", sandbox.now + timedelta(minutes=5))
    app.deliver_outbox(sandbox.now + timedelta(minutes=6))

    [email] = sandbox.emails
    [run] = sandbox.teams_runs
    assert run["status"] == "Succeeded", run["error"]  # the sandbox's Adaptive Card check passed
    [posted] = sandbox.teams_cards
    card = json.dumps(posted["card"])
    assert email["content"]["subject"] in card  # the same title
    for fact in ("ws-prod", "pipe1_train", "gpu-cluster", "ValueError: Input contains NaN"):
        assert fact in card and fact in email["content"]["plainText"]
    actions = posted["card"]["actions"]
    assert [a["url"].split("?")[0] for a in actions] == [
        "https://ml.azure.com/runs/pipe1",
        "https://ml.azure.com/runs/pipe1_train",
    ]


def test_teams_answering_429_for_a_while_gets_the_card_once_later(sandbox, make_app, teams):
    start = sandbox.now
    sandbox.fail_teams_during(429, start, start + timedelta(minutes=20), retry_after=120)
    _fail_pipeline(sandbox)
    app = make_app()
    app.scan("run-failures", start)
    assert len(sandbox.emails) == 1 and sandbox.teams_cards == []  # the email does not wait for Teams

    for minutes in range(2, 60, 2):  # the deliver_outbox timer
        sandbox.set_clock(start + timedelta(minutes=minutes))
        app.deliver_outbox(sandbox.now)

    [posted] = sandbox.teams_cards
    assert posted["posted_at"] >= (start + timedelta(minutes=20)).isoformat().replace("+00:00", "Z")[:19]
    assert sandbox.teams.raised >= 3  # it was throttled, then retried by the outbox
    assert len(sandbox.emails) == 1
    [record] = [r for r in app.incidents.records() if r.channel == "teams"]
    assert record.status is Status.SENT and record.key.endswith("@teams:ml-oncall")


def test_two_instances_delivering_at_once_post_one_card(sandbox, make_app, teams):
    _fail_pipeline(sandbox)
    sandbox.fail_teams(503, count=3)  # the first post and its two quick retries fail: the card waits for a retry
    make_app().scan("run-failures", sandbox.now)
    assert sandbox.teams_cards == []
    apps, barrier = [make_app(), make_app()], threading.Barrier(2)
    later = sandbox.now + timedelta(minutes=5)

    def deliver(app):
        barrier.wait()
        app.deliver_outbox(later)

    threads = [threading.Thread(target=deliver, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sandbox.teams_cards) == 1
    assert len(sandbox.emails) == 1


def test_a_teams_destination_that_keeps_refusing_is_given_up_on_alone(sandbox, make_app, teams):
    _fail_pipeline(sandbox)
    sandbox.fail_teams(400, count=100)
    app = make_app()
    start = sandbox.now
    app.scan("run-failures", start)
    for hours in range(1, 12):
        sandbox.set_clock(start + timedelta(hours=hours))
        app.deliver_outbox(sandbox.now)
    records = {r.channel: r for r in app.incidents.records()}
    assert records["teams"].status is Status.DEAD and records["teams"].attempts == 8
    assert "HTTP 400" in records["teams"].last_error and "sig=" not in records["teams"].last_error
    assert records["email"].status is Status.SENT and len(sandbox.emails) == 1
