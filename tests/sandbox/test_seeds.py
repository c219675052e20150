"""Seed documents: relative times follow the sandbox clock, pipelines become rows and run history."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sandbox.emulator import Sandbox
from sandbox.seeds import DEMO_SEED, relative_time

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_relative_times() -> None:
    assert relative_time("now-25m", NOW) == "2026-03-01T11:35:00Z"
    assert relative_time("now+1h", NOW) == "2026-03-01T13:00:00Z"
    assert relative_time("now", NOW) == "2026-03-01T12:00:00Z"
    assert relative_time("nowhere", NOW) is None
    assert relative_time("2026-03-01T11:00:00Z", NOW) is None


def test_the_demo_seed_puts_a_failed_pipeline_in_log_analytics_and_run_history() -> None:
    sandbox = Sandbox(now=NOW)
    sandbox.load_seed(json.loads(DEMO_SEED.read_text()))
    failed = sandbox.log_analytics.query(
        "11111111-1111-1111-1111-111111111111",
        {"query": "AmlRunStatusChangedEvent | where Status == 'Failed' | project RunId, TimeGenerated"},
        NOW,
    )
    rows = {row[0]: row[1] for row in failed["tables"][0]["rows"]}
    assert rows["churn_train_pipeline_7f3a_train"] == "2026-03-01T11:32:00Z"  # now-28m
    assert "churn_train_pipeline_7f3a" in rows
    workspace = sandbox.aml.ensure_workspace("ws-churn-prod")
    found = sandbox.aml.find_run(workspace, "churn_train_pipeline_7f3a_train", NOW)  # run history has it too
    assert found is not None and found[1] is not None and found[1].error is not None
