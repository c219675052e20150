"""Azure Monitor common alert schema: the alert contexts, one model per monitoring service (lenient: types Azure
is known to vary), and the time bounds every alert time is held to."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Azure Monitor stamps alerts with the current time: anything outside these years is a broken or hostile sender,
# and refusing it keeps every later calculation (windows, margins, look-backs) inside datetime's range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def aware(value: datetime | None) -> datetime | None:
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

    _aware_window = field_validator("window_start", "window_end")(aware)


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

    _aware_window = field_validator("window_start", "window_end")(aware)


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

    _aware_time = field_validator("event_time")(aware)


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


CONTEXT_MODELS: dict[str, type[_Context]] = {
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
