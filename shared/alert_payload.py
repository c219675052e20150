"""Azure Monitor common alert schema: parse and validate a webhook body, and summarise any alert for an email.

Pure: bytes in, a validated `Alert` (or a `PayloadError` with the HTTP status and a message that says exactly what
is wrong) out. `essentials` is validated strictly, because de-duplication, routing and the email depend on it.
`alertContext` is validated against the model of its `monitoringService`; a context that does not match (or an
unknown service) still produces a readable generic email, because losing an alert over an unexpected context
field is worse than a plainer email.

Shapes follow Microsoft's "Sample alert payloads" (alerts-payload-samples): metric (static, dynamic, availability
test), Log Alerts V2, log alerts V1 (`Log Analytics`, `Application Insights`), activity log (Administrative, Policy,
Autoscale, Security), `Resource Health`, `ServiceHealth`, `SmartDetector`, `Prometheus`, `CostAlerts` (budgets).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_BODY_BYTES = 256 * 1024  # Azure Monitor's own limit for a common-schema payload
COMMON_SCHEMA = "azureMonitorCommonAlertSchema"
VALUE_LIMIT = 2000  # per fact in the email; keeps the stored incident far below the 64 KiB entity limit
FACT_LIMIT = 40

ENABLE_COMMON_SCHEMA = (
    "Enable the common alert schema on the action group receiver that calls this endpoint: Azure portal > "
    "Monitor > Alerts > Action groups > <group> > Actions > edit the webhook / Azure Function action > "
    "'Enable the common alert schema' = Yes (ARM/Bicep: useCommonAlertSchema: true; "
    "CLI: az monitor action-group update ... --add-action azurefunction ... usecommonalertschema)."
)
_LEGACY_SCHEMAS = {
    "azuremonitormetricalert": "a classic metric alert payload",
    "microsoft.insights/activitylogs": "a classic activity log alert payload",
    "microsoft.insights/logalert": "a classic log alert payload",
}


class PayloadError(ValueError):
    """The body is not an acceptable alert; `status` is the HTTP answer (400, 413, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- the envelope and essentials (strict) ------------------------------------------------------------------------


# Azure Monitor stamps alerts with the current time: anything outside these years is a broken or hostile sender,
# and refusing it keeps every later calculation (windows, margins, look-backs) inside datetime's range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    """UTC, and between EARLIEST and LATEST (a ValueError becomes the field's validation error, so a 400)."""
    if value is None:
        return None
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ValueError(f"the time must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return moment


class Essentials(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_max_length=4096)

    alert_id: str = Field(alias="alertId", min_length=1)
    alert_rule: str | None = Field(None, alias="alertRule")  # null for budget alerts
    severity: str | None = Field(None, pattern=r"^Sev[0-4]$")
    signal_type: str | None = Field(None, alias="signalType")
    monitor_condition: Literal["Fired", "Resolved"] = Field(alias="monitorCondition")
    monitoring_service: str = Field(alias="monitoringService", min_length=1, max_length=200)
    alert_target_ids: list[str] | None = Field(None, alias="alertTargetIDs", max_length=100)
    configuration_items: list[str] | None = Field(None, alias="configurationItems", max_length=100)
    origin_alert_id: str | None = Field(None, alias="originAlertId")
    fired_at: datetime = Field(alias="firedDateTime")
    resolved_at: datetime | None = Field(None, alias="resolvedDateTime")
    description: str | None = None
    investigation_link: str | None = Field(None, alias="investigationLink")

    _aware_fired = field_validator("fired_at", "resolved_at")(_aware)


class AlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    essentials: Essentials
    alertContext: dict[str, Any] | None = None
    customProperties: dict[str, Any] | None = None


class CommonAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    schemaId: Literal["azureMonitorCommonAlertSchema"]
    data: AlertData


# --- alert contexts, one model per monitoring service (lenient: types Azure is known to vary) --------------------

Scalar = str | int | float | bool | None


class _Context(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Dimension(_Context):
    name: str
    value: str | int | float | bool | None = None


class MetricCriterion(_Context):
    metric_name: str | None = Field(None, alias="metricName")
    metric_namespace: str | None = Field(None, alias="metricNamespace")
    operator: str | None = None
    threshold: str | int | float | None = None
    time_aggregation: str | None = Field(None, alias="timeAggregation")
    dimensions: list[Dimension] | None = None
    metric_value: float | None = Field(None, alias="metricValue")
    web_test_name: str | None = Field(None, alias="webTestName")
    alert_sensitivity: str | None = Field(None, alias="alertSensitivity")


class MetricCondition(_Context):
    window_size: str | None = Field(None, alias="windowSize")
    all_of: list[MetricCriterion] = Field(default_factory=list, alias="allOf")
    window_start: datetime | None = Field(None, alias="windowStartTime")
    window_end: datetime | None = Field(None, alias="windowEndTime")

    _aware_window = field_validator("window_start", "window_end")(_aware)


class MetricContext(_Context):
    condition_type: str | None = Field(None, alias="conditionType")
    condition: MetricCondition


class LogCriterion(_Context):
    search_query: str | None = Field(None, alias="searchQuery")
    operator: str | None = None
    threshold: str | int | float | None = None
    time_aggregation: str | None = Field(None, alias="timeAggregation")
    dimensions: list[Dimension] | None = None
    metric_value: float | None = Field(None, alias="metricValue")
    link_to_search_results_ui: str | None = Field(None, alias="linkToSearchResultsUI")
    link_to_filtered_search_results_ui: str | None = Field(None, alias="linkToFilteredSearchResultsUI")
    link_to_search_results_api: str | None = Field(None, alias="linkToSearchResultsAPI")
    link_to_filtered_search_results_api: str | None = Field(None, alias="linkToFilteredSearchResultsAPI")


class LogCondition(_Context):
    window_size: str | None = Field(None, alias="windowSize")
    all_of: list[LogCriterion] = Field(default_factory=list, alias="allOf")
    window_start: datetime | None = Field(None, alias="windowStartTime")
    window_end: datetime | None = Field(None, alias="windowEndTime")

    _aware_window = field_validator("window_start", "window_end")(_aware)


class LogV2Context(_Context):
    condition_type: str | None = Field(None, alias="conditionType")
    condition: LogCondition


class LogV1Context(_Context):
    search_query: str | None = Field(None, alias="SearchQuery")
    interval_start: str | None = Field(None, alias="SearchIntervalStartTimeUtc")
    interval_end: str | None = Field(None, alias="SearchIntervalEndtimeUtc")
    result_count: int | None = Field(None, alias="ResultCount")
    threshold: str | int | float | None = Field(None, alias="Threshold")
    operator: str | None = Field(None, alias="Operator")
    alert_type: str | None = Field(None, alias="AlertType")
    workspace_id: str | None = Field(None, alias="WorkspaceId")
    application_id: str | None = Field(None, alias="ApplicationId")
    dimensions: list[Dimension] | None = Field(None, alias="Dimensions")
    link_to_search_results: str | None = Field(None, alias="LinkToSearchResults")


class Authorization(_Context):
    action: str | None = None
    scope: str | None = None


class ActivityLogContext(_Context):
    authorization: Authorization | None = None
    caller: str | None = None
    correlation_id: str | None = Field(None, alias="correlationId")
    event_source: str | int | None = Field(None, alias="eventSource")
    event_time: datetime | None = Field(None, alias="eventTimestamp")
    level: str | int | None = None
    operation_name: str | None = Field(None, alias="operationName")
    status: str | None = None
    sub_status: str | None = Field(None, alias="subStatus")
    properties: dict[str, Any] | None = None
    event_description: str | None = Field(None, alias="Activity Log Event Description")

    _aware_time = field_validator("event_time")(_aware)


class SmartDetectorContext(_Context):
    detection_summary: str | None = Field(None, alias="DetectionSummary")
    occurrence_time: str | None = Field(None, alias="FormattedOccurrenceTime")
    detected_value: str | None = Field(None, alias="DetectedValue")
    normal_value: str | None = Field(None, alias="NormalValue")
    detector_name: str | None = Field(None, alias="SmartDetectorName")
    detector_id: str | None = Field(None, alias="SmartDetectorId")


class PrometheusContext(_Context):
    interval: str | None = None
    expression: str | None = None
    expression_value: str | int | float | None = Field(None, alias="expressionValue")
    for_: str | None = Field(None, alias="for")
    labels: dict[str, Scalar] | None = None
    annotations: dict[str, Scalar] | None = None
    rule_group: str | None = Field(None, alias="ruleGroup")


class CostContext(_Context):
    category: str | None = Field(None, alias="AlertCategory")
    alert_data: dict[str, Scalar] | None = Field(None, alias="AlertData")


def service_key(service: str) -> str:
    """`Resource Health`, `ResourceHealth` and `resource-health` are one service."""
    return re.sub(r"[\s_\-]", "", service).lower()


_CONTEXT_MODELS: dict[str, type[_Context]] = {
    "platform": MetricContext,
    "logalertsv2": LogV2Context,
    "loganalytics": LogV1Context,
    "applicationinsights": LogV1Context,
    "activitylogadministrative": ActivityLogContext,
    "activitylogpolicy": ActivityLogContext,
    "activitylogautoscale": ActivityLogContext,
    "activitylogsecurity": ActivityLogContext,
    "activitylogrecommendation": ActivityLogContext,
    "resourcehealth": ActivityLogContext,
    "servicehealth": ActivityLogContext,
    "smartdetector": SmartDetectorContext,
    "prometheus": PrometheusContext,
    "costalerts": CostContext,
    "budget": CostContext,
}


class Alert(BaseModel):
    """A validated common-schema alert: the essentials, the typed context (None if unknown or not matching)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    essentials: Essentials
    raw_context: dict[str, Any]
    custom_properties: dict[str, Any]
    context: Any = None  # one of the _Context models above
    context_problem: str = ""  # why the typed context is missing, for the email and the log

    @property
    def service(self) -> str:
        return self.essentials.monitoring_service

    @property
    def condition(self) -> str:
        return self.essentials.monitor_condition


# --- parsing ------------------------------------------------------------------------------------------------------


def parse_alert(body: bytes) -> Alert:
    """Bytes of a webhook request -> Alert, or PayloadError(400/413) saying exactly what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(413, f"The body is {len(body)} bytes; a common alert schema payload is at most "
                                f"{MAX_BODY_BYTES} bytes (256 KB).")
    if not body.strip():
        raise PayloadError(400, "The body is empty; expected a JSON object in the Azure Monitor common alert schema.")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadError(400, f"The body is not valid JSON ({_json_error(err)}).") from None
    except ValueError:  # json.loads refuses integers longer than Python's int parsing limit
        raise PayloadError(400, f"The body has an integer of more than {sys.get_int_max_str_digits()} digits; "
                                "no alert field needs one.") from None
    except RecursionError:
        raise PayloadError(400, "The body is not valid JSON (nested too deeply).") from None
    if not isinstance(document, dict):
        raise PayloadError(400, f"The body is a JSON {_json_type(document)}; expected a JSON object in the Azure "
                                "Monitor common alert schema.")
    _reject_legacy(document)
    try:
        envelope = CommonAlert.model_validate(document)
    except ValidationError as err:
        raise PayloadError(400, "The alert does not match the common alert schema: " + _describe(err)) from None
    except RecursionError:
        raise PayloadError(400, "The alert is nested too deeply.") from None
    raw_context = envelope.data.alertContext or {}
    alert = Alert(essentials=envelope.data.essentials, raw_context=raw_context,
                  custom_properties=envelope.data.customProperties or {})
    model = _CONTEXT_MODELS.get(service_key(alert.service))
    if model is None:
        alert.context_problem = f"monitoringService {alert.service!r} is not one this app knows in detail"
    else:
        try:
            alert.context = model.model_validate(raw_context)
        except (ValidationError, RecursionError) as err:
            detail = _describe(err, prefix="data.alertContext") if isinstance(err, ValidationError) else "too deep"
            alert.context_problem = f"alertContext does not have the documented {alert.service} shape: {detail}"
    return alert


def _reject_legacy(document: dict[str, Any]) -> None:
    schema = document.get("schemaId")
    if schema == COMMON_SCHEMA:
        return
    if isinstance(schema, str) and schema:
        what = _LEGACY_SCHEMAS.get(schema.lower(), f"a payload with schemaId {schema[:100]!r}")
        raise PayloadError(400, f"This is {what}, not the Azure Monitor common alert schema "
                                f"(schemaId must be {COMMON_SCHEMA!r}). {ENABLE_COMMON_SCHEMA}")
    data = document.get("data")
    legacy_log_v1 = "SearchQuery" in document or (isinstance(data, dict) and "SearchQuery" in data)
    if legacy_log_v1 or "schemaId" not in document:
        what = "a classic log alert (V1) payload" if legacy_log_v1 else "a payload without schemaId"
        raise PayloadError(400, f"This is {what}, not the Azure Monitor common alert schema "
                                f"(schemaId must be {COMMON_SCHEMA!r}). {ENABLE_COMMON_SCHEMA}")
    raise PayloadError(400, f"schemaId must be the string {COMMON_SCHEMA!r}, got a JSON {_json_type(schema)}. "
                            f"{ENABLE_COMMON_SCHEMA}")


def _json_error(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at line {err.lineno} column {err.colno}"
    return "it is not UTF-8 text"


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _describe(err: ValidationError, prefix: str = "", limit: int = 8) -> str:
    problems = []
    for error in err.errors(include_url=False)[:limit]:
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(error["loc"]))
        given = error.get("input")
        shown = "" if error["type"] == "missing" else f" (got {_shorten(repr(given), 80)})"
        problems.append(f"{path}: {error['msg']}{shown}")
    more = err.error_count() - limit
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def _shorten(text: str, limit: int = VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- summary: what the generic alert email shows -------------------------------------------------------------------


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


# The hosts of the links Azure Monitor puts in its payloads (investigationLink, linkToSearchResultsUI,
# LinkToSearchResults: the Azure portal) and of Azure ML studio; the sovereign clouds' portals and studios are
# their documented variants. Any other host, however Azure-like (portal.azure.com.evil.example), is not linked.
AZURE_LINK_HOSTS = frozenset({
    "portal.azure.com", "portal.azure.us", "portal.azure.cn",
    "ml.azure.com", "ml.azure.us", "studio.ml.azure.cn",
})


def safe_link(url: Any) -> str | None:
    """The URL if an email may link to it: https, on one of AZURE_LINK_HOSTS, no credentials or port, nothing a
    mail client could read differently (whitespace, quotes, angle brackets, backslashes); else None."""
    if not isinstance(url, str) or len(url) > 8000 or not re.fullmatch(r"https://[^\s\"'<>\\]+", url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.hostname not in AZURE_LINK_HOSTS or port or parts.username is not None:
        return None
    return url


def unlinked_text(url: Any) -> str:
    """How an email shows a link it does not make: the host as text that no mail client turns into a link."""
    try:
        host = urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        host = None
    if not host:
        return "(not an https link; not shown)"
    why = "a malformed link" if host in AZURE_LINK_HOSTS else "not an Azure address"
    return f"{host[:200].replace('.', '[.]')} ({why}; not linked)"


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
        facts.add("Value", f"{criterion.time_aggregation or ''} {value} {criterion.operator or ''} "
                           f"{_text(criterion.threshold)}".strip())
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
        facts.add("Value", f"{criterion.time_aggregation or ''} {_text(criterion.metric_value)} "
                           f"{criterion.operator or ''} {_text(criterion.threshold)}".strip())
        facts.add("Dimensions", _dimensions_text(criterion.dimensions))
        _link(links, "Open the query results", criterion.link_to_filtered_search_results_ui
              or criterion.link_to_search_results_ui)
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
    for key in ("currentHealthStatus", "previousHealthStatus", "cause", "type", "details", "service", "region",
                "incidentType", "stage", "trackingId", "impactStartTime", "impactMitigationTime", "description",
                "oldInstancesCount", "newInstancesCount", "threatStatus", "category", "compromisedEntity",
                "actionTaken", "remediationSteps", "policies", "message"):
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
    facts, links = _Facts(), []
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
    if isinstance(alert.context, CostContext) and (alert.context.alert_data or {}).get("BudgetName"):
        return "Budget " + _text(alert.context.alert_data["BudgetName"])
    return _text(e.configuration_items[0] if e.configuration_items else "") or _text(e.monitoring_service)


def _portal_alert_link(alert_id: str) -> str | None:
    if not re.fullmatch(r"/subscriptions/[0-9a-fA-F-]{36}/providers/Microsoft\.AlertsManagement/alerts/[\w-]+",
                        alert_id, re.IGNORECASE):
        return None
    return "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/" + (
        alert_id.replace("/", "%2F"))
