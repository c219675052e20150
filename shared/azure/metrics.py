"""Azure Monitor Metrics: the getBatch API through azure-monitor-querymetrics' MetricsClient, one client per region.

One call reads at most 50 resources, all of one subscription, region and resource type, from the endpoint of that
region (`detectors.metric_rules.batch_calls` groups a rule's resources that way; the rules file keeps each group
within 50). Errors are raised as azure-core's AzureError; the metric scan reports them per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.core.resource_ids import extension_scope

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# With a dimension filter the service answers at most `top` series (default 10), silently, and users observe the
# limit over the whole batch rather than per resource (azure-sdk-for-go#22757): ask for far more than 50
# resources can have, and warn when the answer is that full.
MAX_SERIES = 10_000


@dataclass(frozen=True)
class MetricQuery:
    namespace: str
    metric: str
    aggregation: str  # Total, Average, Minimum, Maximum, Count
    interval: timedelta  # a time grain of the API
    filter: str | None = None  # $filter on dimensions


@dataclass(frozen=True)
class TimeSeries:
    """One series of the answer: a resource and one combination of dimension values, points in time order."""

    resource_id: str
    dimensions: dict[str, str]
    points: list[tuple[datetime, float | None]]  # None: no value in that interval


class MetricsApi:
    def __init__(self, endpoint_template: str, credential: TokenCredential, *, retry_total: int = 3) -> None:
        self._template = endpoint_template
        self._credential = credential
        self._retry_total = retry_total
        self._clients: dict[str, Any] = {}

    def query(
        self, region: str, resource_ids: tuple[str, ...], query: MetricQuery, start: datetime, end: datetime
    ) -> list[TimeSeries]:
        """Every series of the metric on these resources (of one subscription and type) in `region`."""
        results = self._client(region).query_resources(
            resource_ids=list(resource_ids),
            metric_namespace=query.namespace,
            metric_names=[query.metric],
            timespan=(start, end),
            granularity=query.interval,
            aggregations=[query.aggregation],
            filter=query.filter,
            max_results=MAX_SERIES if query.filter else None,
        )
        field_name = query.aggregation.lower()
        found: list[TimeSeries] = []
        for index, result in enumerate(results):
            for metric in result.metrics:
                # The service names each metric `<resource id>/providers/Microsoft.Insights/metrics/<name>`.
                resource_id = (
                    extension_scope(metric.id, "Microsoft.Insights/metrics")
                    or resource_ids[min(index, len(resource_ids) - 1)]
                )
                found.extend(
                    TimeSeries(
                        resource_id,
                        dict(element.metadata_values or {}),
                        [(value.timestamp, getattr(value, field_name)) for value in element.data],
                    )
                    for element in metric.timeseries
                )
        return found

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            from azure.monitor.querymetrics import MetricsClient

            endpoint = self._template.format(region=region)
            self._clients[region] = MetricsClient(
                endpoint, self._credential, retry_total=self._retry_total, **_audience(self._template)
            )
        return self._clients[region]


def _audience(template: str) -> dict[str, str]:
    """Tokens for https://{region}.metrics.monitor.azure.us are for https://metrics.monitor.azure.us (sovereign
    clouds); any other host (the sandbox) keeps the client's default audience."""
    host = urlsplit(template.replace("{region}", "region")).hostname or ""
    cloud = host.removeprefix("region.")
    return {"audience": f"https://{cloud}"} if cloud != host and cloud.startswith("metrics.monitor.") else {}
