"""Which alerts can be enriched with step-level details from Log Analytics, and the one query that does it.

Pure. An Azure ML metric alert (`Failed Runs` on a workspace) is enriched from the workspace's `_ResourceId`; a
Log Alerts V2 rule with `RunId` / `RootRunId` / `WorkspaceName` dimensions from those values. Everything taken
from the payload reaches the KQL only through `shared.kql` literals, so no value can change the query's meaning.
The query returns the same columns as the scan's query, so `run_failures.events_from_rows` and
`group_pipeline_failures` turn its rows into the same per-pipeline incidents (and incident keys) as the scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from shared.alert_payload import Alert, Dimension, LogV2Context, MetricContext
from shared.kql import kql_string_list
from shared.run_failures import failed_pipelines_query

_AML_WORKSPACE = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.machinelearningservices/workspaces/[^/]+$",
    re.IGNORECASE,
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FAILURE_METRICS = ("failed runs", "not responding runs")
_RUN_DIMENSIONS = {"runid", "rootrunid"}
VALUES_LIMIT = 50  # literals per list: a Log Alerts V2 payload carries at most six dimensions anyway
DEFAULT_WINDOW = timedelta(minutes=15)
MAX_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class EnrichmentPlan:
    """What to look up: failed runs in [start, end] of these AML workspaces or these run ids."""

    start: datetime
    end: datetime
    lookback_start: datetime  # the steps of a failed pipeline may have started long before it failed
    resource_ids: tuple[str, ...] = ()  # AML workspace resource ids (metric alerts)
    run_ids: tuple[str, ...] = ()  # RunId / RootRunId dimension values (log alerts)
    workspace_names: tuple[str, ...] = ()  # WorkspaceName dimension values (log alerts)
    log_analytics_workspace: str | None = None  # GUID named by the alert's own links, if any


def plan_enrichment(alert: Alert, now: datetime, margin: timedelta, lookback: timedelta) -> EnrichmentPlan | None:
    """None when the alert is not about Azure ML runs (or is a Resolved notice: nothing new failed)."""
    if alert.condition != "Fired":
        return None
    context = alert.context
    if isinstance(context, MetricContext):
        targets = tuple(t for t in alert.essentials.alert_target_ids or [] if _AML_WORKSPACE.match(t))
        about_failures = any((c.metric_name or "").lower() in _FAILURE_METRICS for c in context.condition.all_of)
        if not (targets and about_failures):
            return None
        start, end = _window(context.condition.window_start, context.condition.window_end, alert, now, margin)
        return EnrichmentPlan(start, end, start - lookback, resource_ids=targets[:VALUES_LIMIT])
    if isinstance(context, LogV2Context):
        dimensions = [d for c in context.condition.all_of for d in c.dimensions or []]
        run_ids = _values(dimensions, _RUN_DIMENSIONS)
        if not run_ids:
            return None
        start, end = _window(context.condition.window_start, context.condition.window_end, alert, now, margin)
        links = [c.link_to_search_results_api or c.link_to_filtered_search_results_api or ""
                 for c in context.condition.all_of]
        return EnrichmentPlan(
            start, end, start - lookback, run_ids=run_ids, workspace_names=_values(dimensions, {"workspacename"}),
            log_analytics_workspace=next((w for w in map(_workspace_guid, links) if w), None),
        )
    return None


def _values(dimensions: list[Dimension], names: set[str]) -> tuple[str, ...]:
    values: list[str] = []
    for dimension in dimensions:
        if dimension.name.replace(" ", "").lower() in names and isinstance(dimension.value, str):
            value = dimension.value.strip()
            if value and value not in values:
                values.append(value[:1000])
    return tuple(values[:VALUES_LIMIT])


def _window(start: datetime | None, end: datetime | None, alert: Alert, now: datetime,
            margin: timedelta) -> tuple[datetime, datetime]:
    """The alert's window plus the margin, kept sane: a payload's dates cannot make the query scan years (and are
    clamped before any arithmetic)."""
    latest, earliest = now + timedelta(hours=1), now - timedelta(days=30)
    end = min(max(end or alert.essentials.fired_at, earliest), latest)
    start = min(max(start or end - DEFAULT_WINDOW, earliest), end)
    start = max(start, end - MAX_WINDOW)
    return start - margin, end + margin


def _workspace_guid(link: str) -> str | None:
    """`https://api.loganalytics.io/v1/workspaces/<guid>/query?...` names the workspace the rule queried."""
    try:
        parsed = urlparse(link)
    except ValueError:
        return None
    match = re.fullmatch(r"/v1/workspaces/(" + _GUID.pattern + r")/query", parsed.path)
    return match.group(1).lower() if match and parsed.scheme == "https" else None


def enrichment_query(plan: EnrichmentPlan) -> str:
    """One query for all runs of an alert: the latest status of every run of each pipeline that had a run fail
    in the window (and in the alert's scope), with the compute job's error text and experiment."""
    scope = []
    if plan.resource_ids:
        scope.append(f"| where _ResourceId in~ {kql_string_list(plan.resource_ids)}")
    if plan.run_ids:
        ids = kql_string_list(plan.run_ids)
        scope.append(f"| where RunId in {ids} or RootRunId in {ids}")
    if plan.workspace_names:
        scope.append(f"| where WorkspaceName in~ {kql_string_list(plan.workspace_names)}")
    if not scope:
        raise ValueError("an enrichment query needs a scope (resource ids or run ids)")
    return failed_pipelines_query(plan.start, plan.end, clock="TimeGenerated",
                                  selection=[*scope, '| where Status =~ "Failed"'])
