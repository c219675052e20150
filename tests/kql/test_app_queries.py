"""Every KQL text the app can produce, checked by Microsoft's Kusto.Language against the real table schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.run_failures import QueryWindow, run_failures_query

from .analyser import assert_clean

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def app_queries() -> list[tuple[str, str]]:
    window = QueryWindow(start=END - timedelta(minutes=20), end=END, lookback_start=END - timedelta(hours=48))
    alert_rules = [(f"infra: {path.name}", path.read_text()) for path in sorted(ROOT.glob("infra/**/*.kql"))]
    return [("run_failures_query", run_failures_query(window)), *alert_rules]


def test_every_app_query_is_clean():
    assert_clean(app_queries(), fail_on_warnings=True)
