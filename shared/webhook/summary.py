"""The facts of any Azure Monitor alert: what the generic `alert` message shows (detectors/azure_monitor_alert.py),
stored in the outbox as the incident's payload. Links are kept only to Azure's own hosts (core/links.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from shared.core.links import safe_link, unlinked_text
from shared.core.resource_ids import is_guid, parse_resource_id
from shared.core.text import shorten
from shared.webhook.contexts import (
    ActivityLogContext,
    CostContext,
    Dimension,
    LogV1Context,
    LogV2Context,
    MetricContext,
    PrometheusContext,
    SmartDetectorContext,
)
from shared.webhook.payload import Alert

VALUE_LIMIT = 2000  # per fact; keeps the stored incident far below the 64 KiB entity limit
FACT_LIMIT = 40


def _shorten(text: str, limit: int = VALUE_LIMIT) -> str:
    return shorten(text, limit)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _shorten(value.strip())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return _shorten(json.dumps(value, ensure_ascii=False, default=str))
    return _shorten(str(value))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


class _Facts:
    def __init__(self) -> None:
        self.items: list[list[str]] = []

    def add(self, label: str, value: Any) -> None:
        text = _text(value)
        if text and len(self.items) < FACT_LIMIT:
            self.items.append([label, text])


def _dimensions_text(dimensions: list[Dimension] | None) -> str:
    return ", ".join(f"{d.name}={_text(d.value)}" for d in dimensions or [])


def _metric_facts(context: MetricContext, facts: _Facts) -> None:
    condition = context.condition
    facts.add("Condition type", context.condition_type)
    for criterion in condition.all_of[:5]:
        name = criterion.metric_name or criterion.web_test_name or "metric"
        value = _text(criterion.metric_value)
        facts.add("Metric", f"{name} ({criterion.metric_namespace})" if criterion.metric_namespace else name)
        facts.add(
            "Value",
            f"{criterion.time_aggregation or ''} {value} {criterion.operator or ''} "
            f"{_text(criterion.threshold)}".strip(),
        )
        facts.add("Sensitivity", criterion.alert_sensitivity)
        facts.add("Dimensions", _dimensions_text(criterion.dimensions))
        facts.add("Availability test", criterion.web_test_name)
    facts.add("Window", _window_text(condition.window_start, condition.window_end, condition.window_size))


def _window_text(start: datetime | None, end: datetime | None, size: str | None) -> str:
    span = f"{_when(start)} – {_when(end)}" if start and end else ""
    return f"{span} ({size})" if span and size else span or (size or "")


def _log_v2_facts(context: LogV2Context, facts: _Facts, links: list[list[str]]) -> None:
    condition = context.condition
    for criterion in condition.all_of[:5]:
        facts.add("Query", criterion.search_query)
        facts.add(
            "Value",
            f"{criterion.time_aggregation or ''} {_text(criterion.metric_value)} "
            f"{criterion.operator or ''} {_text(criterion.threshold)}".strip(),
        )
        facts.add("Dimensions", _dimensions_text(criterion.dimensions))
        _link(
            links,
            "Open the query results",
            criterion.link_to_filtered_search_results_ui or criterion.link_to_search_results_ui,
        )
    facts.add("Window", _window_text(condition.window_start, condition.window_end, condition.window_size))


def _log_v1_facts(context: LogV1Context, facts: _Facts, links: list[list[str]]) -> None:
    facts.add("Alert type", context.alert_type)
    facts.add("Query", context.search_query)
    facts.add("Results", context.result_count)
    facts.add("Threshold", f"{context.operator or ''} {_text(context.threshold)}".strip())
    facts.add("Dimensions", _dimensions_text(context.dimensions))
    facts.add("Window", f"{context.interval_start or ''} – {context.interval_end or ''}".strip(" –"))
    _link(links, "Open the query results", context.link_to_search_results)


def _activity_facts(context: ActivityLogContext, facts: _Facts) -> None:
    properties = context.properties or {}
    facts.add("Title", properties.get("title"))
    facts.add("Operation", context.operation_name or (context.authorization.action if context.authorization else ""))
    facts.add("Caller", context.caller)
    facts.add("Resource", context.authorization.scope if context.authorization else properties.get("entity"))
    facts.add("Status", " / ".join(s for s in (context.status, context.sub_status) if s))
    facts.add("Time", _when(context.event_time))
    facts.add("Level", context.level)
    facts.add("Correlation id", context.correlation_id)
    # Resource Health, Service Health, Security, Autoscale, Policy: their documented properties, as text.
    for key in (
        "currentHealthStatus",
        "previousHealthStatus",
        "cause",
        "type",
        "details",
        "service",
        "region",
        "incidentType",
        "stage",
        "trackingId",
        "impactStartTime",
        "impactMitigationTime",
        "description",
        "oldInstancesCount",
        "newInstancesCount",
        "threatStatus",
        "category",
        "compromisedEntity",
        "actionTaken",
        "remediationSteps",
        "policies",
        "message",
    ):
        facts.add(key[0].upper() + re.sub(r"([A-Z])", r" \1", key[1:]).lower(), properties.get(key))
    facts.add("Communication", _strip_tags(properties.get("defaultLanguageContent") or properties.get("communication")))
    facts.add("Description", context.event_description)


def _strip_tags(value: Any) -> str:
    # Service Health sends HTML; the email shows it as text (and the template escapes it anyway).
    return re.sub(r"<[^>]{0,500}>", " ", value).strip() if isinstance(value, str) else ""


def _smart_facts(context: SmartDetectorContext, facts: _Facts) -> None:
    facts.add("Detector", context.detector_name or context.detector_id)
    facts.add("Detection", context.detection_summary)
    facts.add("Detected value", context.detected_value)
    facts.add("Normal value", context.normal_value)
    facts.add("Occurred", context.occurrence_time)


def _prometheus_facts(context: PrometheusContext, facts: _Facts) -> None:
    facts.add("Expression", context.expression)
    facts.add("Value", context.expression_value)
    facts.add("For", context.for_)
    facts.add("Labels", ", ".join(f"{k}={_text(v)}" for k, v in (context.labels or {}).items()))
    for key, value in (context.annotations or {}).items():
        facts.add(f"Annotation {key}", value)
    facts.add("Rule group", context.rule_group)


def _cost_facts(context: CostContext, facts: _Facts) -> None:
    facts.add("Category", context.category)
    for key, value in (context.alert_data or {}).items():
        facts.add(re.sub(r"(?<=[a-z])([A-Z])", r" \1", key), value)


def _generic_facts(raw: dict[str, Any], facts: _Facts, prefix: str = "") -> None:
    for key, value in list(raw.items())[:FACT_LIMIT]:
        if isinstance(value, dict) and not prefix:
            _generic_facts(value, facts, f"{key}.")
        else:
            facts.add(f"{prefix}{key}", value)


def _link(links: list[list[str]], label: str, url: Any) -> None:
    """Every link the payload offers; `summarise` keeps Azure's as links and only the host of any other."""
    if isinstance(url, str) and url.strip() and len(links) < 10:
        links.append([label, url])


def summarise(alert: Alert) -> dict[str, Any]:
    """JSON-ready summary of any alert: what the generic alert email shows (stored in the outbox)."""
    e = alert.essentials
    facts, links = _Facts(), list[list[str]]()
    context = alert.context
    if isinstance(context, MetricContext):
        _metric_facts(context, facts)
    elif isinstance(context, LogV2Context):
        _log_v2_facts(context, facts, links)
    elif isinstance(context, LogV1Context):
        _log_v1_facts(context, facts, links)
    elif isinstance(context, ActivityLogContext):
        _activity_facts(context, facts)
    elif isinstance(context, SmartDetectorContext):
        _smart_facts(context, facts)
    elif isinstance(context, PrometheusContext):
        _prometheus_facts(context, facts)
    elif isinstance(context, CostContext):
        _cost_facts(context, facts)
    else:
        _generic_facts(alert.raw_context, facts)
    for key, value in list(alert.custom_properties.items())[:10]:
        facts.add(f"Custom property {key}", value)
    _link(links, "Open the alert in the Azure portal", e.investigation_link)
    portal = _portal_alert_link(e.alert_id)
    if portal:
        _link(links, "Open the alert in the Azure portal", portal)
    targets = [_shorten(target, 500) for target in (e.alert_target_ids or [])[:10]]
    return {
        "alert_id": _shorten(e.alert_id, 1000),
        "rule": _rule_name(alert),
        "severity": e.severity or "",
        "condition": e.monitor_condition,
        "service": _text(e.monitoring_service),
        "signal_type": _text(e.signal_type),
        "fired_at": e.fired_at.isoformat(),
        "resolved_at": e.resolved_at.isoformat() if e.resolved_at else "",
        "description": _text(e.description),
        "targets": targets,
        "facts": facts.items,
        "links": [[label, url] for label, url in links if safe_link(url)],
        "unlinked": [[label, unlinked_text(url)] for label, url in links if not safe_link(url)],
        "note": "",
        "context_problem": _shorten(alert.context_problem, 500),
    }


def _rule_name(alert: Alert) -> str:
    e = alert.essentials
    if e.alert_rule:
        return _text(e.alert_rule)
    budget = (alert.context.alert_data or {}).get("BudgetName") if isinstance(alert.context, CostContext) else None
    if budget:
        return "Budget " + _text(budget)
    return _text(e.configuration_items[0] if e.configuration_items else "") or _text(e.monitoring_service)


def _portal_alert_link(alert_id: str) -> str | None:
    alert = parse_resource_id(alert_id)
    if not (
        alert is not None
        and alert.resource_group is None
        and alert.type == "microsoft.alertsmanagement/alerts"
        and is_guid(alert.subscription)
        and re.fullmatch(r"[\w-]+", alert.name)
    ):
        return None
    return "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/" + (
        alert_id.replace("/", "%2F")
    )
