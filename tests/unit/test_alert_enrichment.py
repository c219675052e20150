"""What the webhook enriches, and the one query it sends: scoped by the alert, payload values only as literals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.alert_enrichment import enrichment_query, plan_enrichment
from shared.alert_payload import parse_alert

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "alerts"
NOW = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
MARGIN, LOOKBACK = timedelta(minutes=15), timedelta(hours=48)


def _alert(name: str, change=None):
    document = json.loads((SAMPLES / f"{name}.json").read_text())
    if change:
        change(document)
    return parse_alert(json.dumps(document).encode())


def test_a_failed_runs_metric_alert_on_a_workspace_is_enriched_from_its_window_plus_margin():
    plan = plan_enrichment(_alert("platform-static-aml-failed-runs"), NOW, MARGIN, LOOKBACK)
    assert plan is not None
    assert plan.resource_ids == ("/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod/"
                                 "providers/Microsoft.MachineLearningServices/workspaces/ws-prod",)
    assert (plan.start, plan.end) == (datetime(2026, 3, 1, 11, 30, tzinfo=UTC), datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
    assert plan.lookback_start == plan.start - LOOKBACK
    assert '| where _ResourceId in~ ("/subscriptions/' in enrichment_query(plan)


def test_a_log_alert_is_enriched_from_its_run_dimensions_and_names_its_workspace():
    plan = plan_enrichment(_alert("log-alerts-v2-aml-runs"), NOW, MARGIN, LOOKBACK)
    assert plan.run_ids == ("pipe1",)  # the empty RootRunId is not a value to look for
    assert plan.workspace_names == ("ws-prod",)
    assert plan.log_analytics_workspace == "11111111-1111-1111-1111-111111111111"
    query = enrichment_query(plan)
    assert '| where RunId in ("pipe1") or RootRunId in ("pipe1")' in query
    assert '| where WorkspaceName in~ ("ws-prod")' in query


def test_alerts_that_are_not_about_failed_runs_are_not_enriched():
    for name in ["platform-dynamic", "log-analytics-v1", "activity-log-administrative-compute-delete",
                 "resource-health", "cost-budget"]:
        assert plan_enrichment(_alert(name), NOW, MARGIN, LOOKBACK) is None, name
    other_metric = _alert("platform-static-aml-failed-runs", lambda d: d["data"]["alertContext"]["condition"][
        "allOf"][0].update(metricName="Active Cores"))
    assert plan_enrichment(other_metric, NOW, MARGIN, LOOKBACK) is None
    resolved = _alert("platform-static-aml-failed-runs",
                      lambda d: d["data"]["essentials"].update(monitorCondition="Resolved"))
    assert plan_enrichment(resolved, NOW, MARGIN, LOOKBACK) is None


def test_payload_dates_cannot_make_the_query_scan_years_or_overflow():
    def far(document):
        condition = document["data"]["alertContext"]["condition"]
        condition.update(windowStartTime="2000-01-01T00:00:00Z", windowEndTime="2999-12-31T23:59:59Z")
    plan = plan_enrichment(_alert("platform-static-aml-failed-runs", far), NOW, MARGIN, LOOKBACK)
    assert plan.end <= NOW + timedelta(hours=1) + MARGIN
    assert plan.end - plan.start <= timedelta(days=2) + 2 * MARGIN


def test_a_window_outside_the_plausible_years_is_not_the_documented_shape_and_is_not_enriched():
    def year_one(document):
        document["data"]["alertContext"]["condition"].update(windowStartTime="0001-01-01T00:00:00+01:00")
    alert = _alert("platform-static-aml-failed-runs", year_one)
    assert "windowStartTime: Value error, the time must be between 2000-01-01" in alert.context_problem
    assert plan_enrichment(alert, NOW, MARGIN, LOOKBACK) is None  # the generic email shows it as sent


HOSTILE_RUN_ID = 'x") or true or RunId in ("\n| take 1000 // \\'


def hostile_plan():
    def hostile(document):
        dims = document["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"]
        dims[0]["value"] = HOSTILE_RUN_ID
        dims[2]["value"] = 'ws"; AzureActivity | take 1'
    return plan_enrichment(_alert("log-alerts-v2-aml-runs", hostile), NOW, MARGIN, LOOKBACK)


def test_a_hostile_run_id_stays_inside_its_string_literal():
    query = enrichment_query(hostile_plan())
    assert "\n| take 1000" not in query  # the newline is escaped, not a new pipe stage
    assert '"x\\") or true or RunId in (\\"\\n| take 1000 // \\\\"' in query
