"""The webhook through a table outage, delivered as Azure delivers: no alert lost, none emailed twice.

The real function, its state in Azurite behind the sandbox's TableGate (closed: every table call fails as Storage
fails when it cannot serve), Log Analytics and ACS Email in the sandbox, and `sandbox.action_group.deliver`
retrying 503s after Azure's documented delays (5, 20, 5, 40, 5 s) in wall time.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
import pytest

import function_app
from sandbox.action_group import deliver
from sandbox.table_gate import TableGate
from shared.entrypoints import alerting_app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "alerts" / "platform-static-aml-failed-runs.json"
webhook = function_app.alert_webhook.build().get_user_function()


def _post(body: bytes) -> int:
    response = webhook(func.HttpRequest("POST", "/api/alerts", body=body,
                                        headers={"Content-Type": "application/json"}))
    return response.status_code


def _alert(index: int, fired: datetime) -> bytes:
    """A Failed Runs metric alert on an Azure ML workspace: claim, then an enrichment query, then the email."""
    document = json.loads(SAMPLE.read_text())
    essentials = document["data"]["essentials"]
    essentials.update(alertId=f"{essentials['alertId']}-burst-{index}", alertRule=f"burst-{index:02d}",
                      firedDateTime=fired.isoformat())
    document["data"]["alertContext"]["condition"].update(
        windowStartTime=(fired - timedelta(minutes=5)).isoformat(), windowEndTime=fired.isoformat())
    return json.dumps(document).encode()


@pytest.fixture
def gate(azurite_connection_string, app_settings, monkeypatch):
    """The app's table endpoint moved behind a gate the test can close."""
    port = int(azurite_connection_string.split("TableEndpoint=http://127.0.0.1:")[1].split("/", 1)[0])
    table_gate = TableGate(port)
    monkeypatch.setenv("AzureWebJobsStorage", table_gate.connection_string(azurite_connection_string))
    alerting_app.cache_clear()
    yield table_gate
    table_gate.stop()
    alerting_app.cache_clear()


def _close_for(gate: TableGate, sandbox, after_queries: int, seconds: float) -> None:
    """Close the gate while a delivery is inside its enrichment query (it has claimed, not yet recorded)."""
    while len(sandbox.queries) < after_queries:
        time.sleep(0.001)
    gate.close_gate()
    time.sleep(seconds)
    gate.open_gate()


def test_a_burst_through_a_table_outage_emails_every_alert_once(sandbox, gate, make_app):
    """Today's code answered a retry that found the failed attempt's claim 200 (in-progress): Azure stopped
    retrying and the alert was never recorded (38 of 40 emailed)."""
    alerting_app().state.ensure_tables()  # a warm instance
    fired = datetime.now(UTC)
    bodies = [_alert(index, fired) for index in range(40)]
    outage = threading.Thread(target=_close_for, args=(gate, sandbox, 12, 1.5))
    outage.start()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda body: deliver(_post, body), bodies))
    outage.join()
    assert gate.refused > 0, "the outage must have hit the burst"
    assert all(statuses[-1] == 200 for statuses in answers), answers
    for minutes in (2, 7):  # the outbox timer: due sends, then sends whose lease the outage left behind
        make_app().deliver_outbox(datetime.now(UTC) + timedelta(minutes=minutes))
    # An email (or a storm digest) names each alert it is about; count each alert once per email.
    emailed = Counter(rule for email in sandbox.emails
                      for rule in set(re.findall(r"burst-\d\d", email["content"]["plainText"])))
    assert sorted(emailed) == [f"burst-{index:02d}" for index in range(40)]  # every alert emailed
    assert set(emailed.values()) == {1}  # none twice
    # The path that lost alerts was taken: a retry met a claim its failed attempt could not release (503), and a
    # later one took it over.
    assert any(statuses[:3] == [503, 503, 200] for statuses in answers), answers
