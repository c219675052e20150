"""Azure Monitor Metrics (azure-monitor-querymetrics MetricsClient, the getBatch API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.metric_rules import Series
from shared.rules import MetricRule

_METRIC_ID_SUFFIX = "/providers/microsoft.insights/metrics/"


class MetricsApi:
    def __init__(self, endpoint: str, credential: Any, *, retry_total: int = 3) -> None:
        from azure.monitor.querymetrics import MetricsClient

        self._client = MetricsClient(endpoint, credential, retry_total=retry_total)
        self.calls = 0

    def series(self, rule: MetricRule, start: datetime, end: datetime) -> list[Series]:
        """Every series of the rule's metric on its resources (one per dimension combination of the filter)."""
        self.calls += 1
        results = self._client.query_resources(
            resource_ids=rule.resource_ids,
            metric_namespace=rule.namespace,
            metric_names=[rule.metric],
            timespan=(start, end),
            granularity=rule.interval,
            aggregations=[rule.aggregation],
            filter=rule.filter,
        )
        field = rule.aggregation.lower()
        found = []
        for index, result in enumerate(results):
            for metric in result.metrics:
                resource_id = _resource_of(metric.id) or rule.resource_ids[min(index, len(rule.resource_ids) - 1)]
                found.extend(
                    Series(resource_id, dict(element.metadata_values or {}),
                           [(value.timestamp, getattr(value, field)) for value in element.data])
                    for element in metric.timeseries
                )
        return found


def _resource_of(metric_id: str | None) -> str | None:
    """The service names each metric `<resource id>/providers/Microsoft.Insights/metrics/<name>`."""
    if not metric_id:
        return None
    cut = metric_id.lower().find(_METRIC_ID_SUFFIX)
    return metric_id[:cut] if cut > 0 else None
