"""Fan-out per workspace: the scan timer puts one message per workspace, `scan_workspace` runs each under its lease
(the real functions, Azurite's tables and queues, the sandbox's Log Analytics, the local host loop)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

import function_app
from sandbox.scenarios import six_step_pipeline
from shared.core.log_markers import SCAN_FAILED
from shared.entrypoints import alerting_app

WS = [f"{n}{n}{n}{n}{n}{n}{n}{n}-0000-0000-0000-00000000000{n}" for n in range(1, 5)]
scan_run_failures = function_app.scan_run_failures.build().get_user_function()


@pytest.fixture
def workspaces(monkeypatch, queued_settings, sandbox):
    """Four workspaces, each with one failed pipeline."""
    for n, workspace_id in enumerate(WS):
        sandbox.add_workspace(workspace_id)
        sandbox.add_tables(six_step_pipeline(f"ws-{n}", f"pipe{n}", sandbox.now - timedelta(minutes=30)), workspace_id)
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", ",".join(WS))
    alerting_app.cache_clear()
    return WS


def test_the_timer_fans_out_one_message_per_workspace_and_each_pipeline_is_emailed_once(workspaces, sandbox, host):
    scan_run_failures(None)
    assert sandbox.queries == []  # the timer only enqueued
    host.drain(("scan-workspaces",))
    assert host.tally.by_queue == {"scan-workspaces": 4}
    assert sorted(q["workspace_id"] for q in sandbox.queries) == sorted(WS)
    host.drain(("notifications",))
    subjects = sorted(email["content"]["subject"] for email in sandbox.emails)
    assert len(subjects) == 4 and len(set(subjects)) == 4
    scan_run_failures(None)  # the next tick: nothing new, nothing sent again
    host.drain()
    assert len(sandbox.emails) == 4


def test_two_instances_given_the_same_workspace_scan_it_once(workspaces, sandbox, queued_settings):
    app_a, app_b = alerting_app(), type(alerting_app())(alerting_app().settings)  # two instances, one storage
    sandbox.delay_next("logs", 1.0)  # the first query is slow: the second instance arrives while it runs
    body = f'{{"scan": "run-failures", "workspace": "{WS[0]}", "tick": "now"}}'.encode()
    results: list = []
    threads = [
        threading.Thread(target=lambda app=app: results.append(app.scan_workspace(body, 1, datetime.now(UTC))))
        for app in (app_a, app_b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result is None for result in results) == [False, True]  # one scanned, one skipped
    assert len(sandbox.queries) == 1
    # The lease ends with the scan: the next message for it runs.
    assert app_b.scan_workspace(body, 1, datetime.now(UTC)) is not None


def test_a_failing_workspace_is_tried_through_the_queue_then_reported(workspaces, sandbox, host, caplog):
    sandbox.fail_workspace(WS[1], 503)
    scan_run_failures(None)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            host.drain(("scan-workspaces",))
    assert host.tally.failed == 4 and host.tally.poisoned == 0  # 4 tries raised; the 5th reported and ended
    given_up = [r.getMessage() for r in caplog.records if "given up after 5 tries" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].startswith(SCAN_FAILED) and WS[1] in given_up[0]
    sandbox.heal_workspace(WS[1])
    scan_run_failures(None)  # the next tick reads its whole gap
    host.drain()
    assert len({email["content"]["subject"] for email in sandbox.emails}) == len(sandbox.emails) == 4


def test_a_message_for_a_workspace_the_app_was_not_given_is_dropped(workspaces, sandbox, caplog):
    body = b'{"scan": "run-failures", "workspace": "99999999-0000-0000-0000-000000000009", "tick": "now"}'
    with caplog.at_level(logging.ERROR):
        assert alerting_app().scan_workspace(body, 1, datetime.now(UTC)) is None
    assert sandbox.queries == [] and "not a workspace run-failures scans" in caplog.text
