"""Every KQL text the app can produce, checked by Microsoft's Kusto.Language against the real table schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.compute_changes import compute_changes_query
from shared.log_scan import QueryWindow
from shared.rules import load_rules
from shared.run_failures import run_failures_query

from .analyser import assert_clean

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def app_queries() -> list[tuple[str, str]]:
    window = QueryWindow(start=END - timedelta(minutes=20), end=END, lookback_start=END - timedelta(hours=48))
    alert_rules = [(f"infra: {path.name}", path.read_text()) for path in sorted(ROOT.glob("infra/**/*.kql"))]
    rules = load_rules(ROOT / "rules.yaml")
    return [
        ("run_failures_query", run_failures_query(window)),
        ("run_failures_query with the rules' statuses", run_failures_query(window, rules.run_failures.statuses)),
        ("run_failures_query with several statuses", run_failures_query(window, ["Failed", "NotResponding"])),
        ("compute_changes_query with the rules' operations",
         compute_changes_query(window, tuple(rules.compute_changes.operations))),
        *alert_rules,
    ]


def test_every_app_query_is_clean():
    assert_clean(app_queries(), fail_on_warnings=True)
