"""Every KQL text the app can produce, checked by Microsoft's Kusto.Language against the real table schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.core.kql import aml_workspace_names_query
from shared.detectors.base import QueryWindow
from shared.detectors.compute_changes import compute_changes_query
from shared.detectors.run_failures_query import run_failures_query
from shared.detectors.stuck_run_query import stuck_runs_query
from shared.enrich.log_analytics import EnrichmentPlan, enrichment_query
from shared.rules_yaml import load_rules
from tests.unit.webhook.test_enrichment import HOSTILE_RUN_ID, hostile_plan

from .analyser import analyse_detailed, assert_clean

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def app_queries() -> list[tuple[str, str]]:
    window = QueryWindow(start=END - timedelta(minutes=20), end=END, lookback_start=END - timedelta(hours=48))
    # The alert rules scoped to the Log Analytics workspace (those scoped to Application Insights: below).
    alert_rules = [(f"infra: {path.name}", path.read_text()) for path in sorted(ROOT.glob("infra/app/queries/*.kql"))]
    rules = load_rules(ROOT / "rules.yaml")
    start = END - timedelta(minutes=30)
    metric = EnrichmentPlan(
        start,
        END,
        start - timedelta(hours=48),
        resource_ids=(
            "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/"
            "Microsoft.MachineLearningServices/workspaces/ws-prod",
        ),
    )
    log = EnrichmentPlan(
        start, END, start - timedelta(hours=48), run_ids=("pipe1", "pipe1_train"), workspace_names=("ws-prod",)
    )
    return [
        ("run_failures_query", run_failures_query(window)),
        ("run_failures_query with the rules' statuses", run_failures_query(window, rules.run_failures.statuses)),
        ("run_failures_query with several statuses", run_failures_query(window, ["Failed", "NotResponding"])),
        (
            "compute_changes_query with the rules' operations",
            compute_changes_query(window, tuple(rules.compute_changes.operations)),
        ),
        ("enrichment_query: metric alert", enrichment_query(metric)),
        ("enrichment_query: log alert", enrichment_query(log)),
        ("enrichment_query: hostile dimensions", enrichment_query(hostile_plan())),
        ("stuck_runs_query", stuck_runs_query(END - rules.stuck_runs.lookback, END)),
        (
            "stuck_runs_query following reported runs",
            stuck_runs_query(END - rules.stuck_runs.lookback, END, ["pipe1", HOSTILE_RUN_ID]),
        ),
        ("aml_workspace_names_query (rules check --online)", aml_workspace_names_query()),
        *alert_rules,
    ]


def test_every_app_query_is_clean():
    reports = assert_clean(app_queries(), fail_on_warnings=True)
    # The alert rule's dimensions are columns of its result: the empty leg for a missing table adds none.
    assert reports["infra: failed-runs-alert.kql"].columns == [
        ("TimeGenerated", "datetime"),
        ("RunId", "string"),
        ("RootRunId", "string"),
        ("WorkspaceName", "string"),
        ("_ResourceId", "string"),
    ]


def test_followed_run_ids_are_literals_and_change_nothing_else_in_the_stuck_runs_query():
    start = END - timedelta(days=7)
    reports = assert_clean(
        [("one", stuck_runs_query(start, END, ["pipe1"])), ("hostile", stuck_runs_query(start, END, [HOSTILE_RUN_ID]))]
    )
    assert reports["hostile"].operators == reports["one"].operators
    assert reports["hostile"].columns == reports["one"].columns
    assert HOSTILE_RUN_ID in reports["hostile"].string_literals


def test_hostile_dimension_values_do_not_change_the_enrichment_query():
    reports = assert_clean(
        [
            (
                "plain",
                enrichment_query(EnrichmentPlan(END, END, END, run_ids=("pipe1",), workspace_names=("ws-prod",))),
            ),
            ("hostile", enrichment_query(hostile_plan())),
        ]
    )
    plain, hostile = reports["plain"], reports["hostile"]
    assert hostile.operators == plain.operators  # same pipeline stages, nothing added
    assert hostile.columns == plain.columns
    assert HOSTILE_RUN_ID in hostile.string_literals  # decoded back to exactly the value, as one literal
    assert 'ws"; AzureActivity | take 1' in hostile.string_literals


APP_INSIGHTS_SCHEMAS = ROOT / "sandbox" / "app-insights-schemas.json"


def test_every_self_monitoring_query_is_clean_against_application_insights():
    # Scoped to the Application Insights component: its tables (traces, requests), not the Log Analytics ones.
    paths = sorted(ROOT.glob("infra/app/queries/app-insights/*.kql"))
    assert [path.name for path in paths] == ["dead-notices.kql", "failed-scans.kql", "function-failures.kql"]
    reports = assert_clean(
        [(path.name, path.read_text()) for path in paths], APP_INSIGHTS_SCHEMAS, fail_on_warnings=True
    )
    # The dimensions of each rule (infra/app/self-monitoring.bicep) are columns of its result.
    assert ("FunctionName", "string") in reports["function-failures.kql"].columns
    assert reports["failed-scans.kql"].columns[:3] == [
        ("Scan", "string"),
        ("WorkspaceId", "string"),
        ("FailedTicks", "long"),
    ]
    assert ("IncidentKey", "string") in reports["dead-notices.kql"].columns
    # Against the Log Analytics schemas the same text does not even resolve its tables: the scopes are kept apart.
    assert all(report.errors for report in analyse_detailed([(p.name, p.read_text()) for p in paths]).values())
