"""Which alerts the webhook enriches with step-level details from Log Analytics, and over which window (pure).

An Azure ML metric alert (`Failed Runs` on a workspace) is enriched from the workspace's `_ResourceId`; a Log
Alerts V2 rule with `RunId` / `RootRunId` / `WorkspaceName` dimensions from those values. The plan is the input of
the Log Analytics enricher (shared/enrich/log_analytics.py), which makes the query: everything taken from the
payload reaches the KQL only through `shared.core.kql` literals, so no value can change the query's meaning.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlparse

from shared.core.resource_ids import AML_WORKSPACE, GUID_PATTERN, parse_resource_id
from shared.enrich.log_analytics import EnrichmentPlan
from shared.webhook.contexts import Dimension, LogV2Context, MetricContext
from shared.webhook.payload import Alert

_FAILURE_METRICS = ("failed runs", "not responding runs")
_RUN_DIMENSIONS = {"runid", "rootrunid"}
VALUES_LIMIT = 50  # literals per list: a Log Alerts V2 payload carries at most six dimensions anyway
DEFAULT_WINDOW = timedelta(minutes=15)
MAX_WINDOW = timedelta(days=2)


def _is_aml_workspace(target: str) -> bool:
    workspace = parse_resource_id(target)
    return workspace is not None and workspace.resource_group is not None and workspace.type == AML_WORKSPACE


def plan_enrichment(alert: Alert, now: datetime, margin: timedelta, lookback: timedelta) -> EnrichmentPlan | None:
    """None when the alert is not about Azure ML runs (or is a Resolved notice: nothing new failed)."""
    if alert.condition != "Fired":
        return None
    context = alert.context
    if isinstance(context, MetricContext):
        targets = tuple(t for t in alert.essentials.alert_target_ids or [] if _is_aml_workspace(t))
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
        links = [
            c.link_to_search_results_api or c.link_to_filtered_search_results_api or ""
            for c in context.condition.all_of
        ]
        return EnrichmentPlan(
            start,
            end,
            start - lookback,
            run_ids=run_ids,
            workspace_names=_values(dimensions, {"workspacename"}),
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


def _window(
    start: datetime | None, end: datetime | None, alert: Alert, now: datetime, margin: timedelta
) -> tuple[datetime, datetime]:
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
    match = re.fullmatch(rf"/v1/workspaces/({GUID_PATTERN})/query", parsed.path)
    return match.group(1).lower() if match and parsed.scheme == "https" else None
