"""Azure Monitor Metrics: the getBatch API through azure-monitor-querymetrics' MetricsClient.

One call reads at most 50 resources, all of one subscription, region and resource type, from the endpoint of
that region. `batch_calls` splits a rule's resources that way (the rules file keeps each group within 50);
`MetricsApi` makes the calls with one client per region. A failed call is reported, not raised, so the other
calls of the rule (other subscriptions, other regions) are still evaluated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.metric_rules import Series
from shared.rules import MetricRule, resource_scope

log = logging.getLogger(__name__)

_METRIC_ID_SUFFIX = "/providers/microsoft.insights/metrics/"
# With a dimension filter the service answers at most `top` series (default 10), silently, and users observe the
# limit over the whole batch rather than per resource (azure-sdk-for-go#22757): ask for far more than 50
# resources can have, and warn when the answer is that full.
MAX_SERIES = 10_000


class MetricsRegionMissing(ValueError):
    """A rule's resource_ids name no region and there is no default (METRICS_REGION)."""


@dataclass(frozen=True)
class BatchCall:
    """One getBatch request: resources of one region, subscription and resource type."""

    region: str
    subscription: str
    resource_type: str
    resource_ids: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"{len(self.resource_ids)} {self.resource_type} resource(s) in subscription {self.subscription}, "
            f"region {self.region}"
        )


@dataclass
class MetricsRead:
    """What the calls of one rule returned: every series, and the calls that failed (to retry next tick)."""

    series: list[Series] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    calls: int = 0


def batch_calls(rule: MetricRule, default_region: str | None) -> list[BatchCall]:
    """The rule's resources grouped by region, subscription and type, in the order the rule lists them."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for region, resource_ids in rule.resources_by_region(default_region).items():
        if region is None:
            raise MetricsRegionMissing(
                f"metric rule {rule.name}: its resource_ids name no region; set region in the rule or the "
                "METRICS_REGION app setting"
            )
        for resource_id in resource_ids:
            groups.setdefault((region, *resource_scope(resource_id)), []).append(resource_id)
    return [
        BatchCall(region, subscription, resource_type, tuple(ids))
        for (region, subscription, resource_type), ids in groups.items()
    ]


def check_regions(rules: list[MetricRule], default_region: str | None) -> None:
    """Raise MetricsRegionMissing when a rule's resources have no region, before any call is made."""
    for rule in rules:
        batch_calls(rule, default_region)


class MetricsApi:
    def __init__(
        self, endpoint_template: str, credential: Any, default_region: str | None = None, *, retry_total: int = 3
    ) -> None:
        self._template = endpoint_template
        self._credential = credential
        self._retry_total = retry_total
        self._clients: dict[str, Any] = {}
        self.default_region = default_region

    def read(self, rule: MetricRule, start: datetime, end: datetime) -> MetricsRead:
        """Every series of the rule's metric on its resources (one per resource and dimension combination)."""
        from azure.core.exceptions import AzureError

        read = MetricsRead()
        for call in batch_calls(rule, self.default_region):
            read.calls += 1
            try:
                read.series.extend(self._query(rule, call, start, end))
            except AzureError as err:  # refused, throttled past the retries, unreachable: retried next tick
                reason = (getattr(err, "message", None) or str(err)).splitlines()[0]
                log.error("Metric rule %s: the call for %s failed: %s", rule.name, call.describe(), reason)
                read.failures.append(f"{call.describe()}: {reason}")
        return read

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            from azure.monitor.querymetrics import MetricsClient

            endpoint = self._template.format(region=region)
            self._clients[region] = MetricsClient(
                endpoint, self._credential, retry_total=self._retry_total, **_audience(self._template)
            )
        return self._clients[region]

    def _query(self, rule: MetricRule, call: BatchCall, start: datetime, end: datetime) -> list[Series]:
        results = self._client(call.region).query_resources(
            resource_ids=list(call.resource_ids),
            metric_namespace=rule.namespace,
            metric_names=[rule.metric],
            timespan=(start, end),
            granularity=rule.interval,
            aggregations=[rule.aggregation],
            filter=rule.filter,
            max_results=MAX_SERIES if rule.filter else None,
        )
        field_name = rule.aggregation.lower()
        found: list[Series] = []
        for index, result in enumerate(results):
            for metric in result.metrics:
                resource_id = _resource_of(metric.id) or call.resource_ids[min(index, len(call.resource_ids) - 1)]
                found.extend(
                    Series(
                        resource_id,
                        dict(element.metadata_values or {}),
                        [(value.timestamp, getattr(value, field_name)) for value in element.data],
                    )
                    for element in metric.timeseries
                )
        if len(found) >= MAX_SERIES:
            log.warning(
                "Metric rule %s: %s answered %d series, the most asked for: some may be missing",
                rule.name,
                call.describe(),
                len(found),
            )
        return found


def _audience(template: str) -> dict[str, str]:
    """Tokens for https://{region}.metrics.monitor.azure.us are for https://metrics.monitor.azure.us (sovereign
    clouds); any other host (the sandbox) keeps the client's default audience."""
    host = urlsplit(template.replace("{region}", "region")).hostname or ""
    cloud = host.removeprefix("region.")
    return {"audience": f"https://{cloud}"} if cloud != host and cloud.startswith("metrics.monitor.") else {}


def _resource_of(metric_id: str | None) -> str | None:
    """The service names each metric `<resource id>/providers/Microsoft.Insights/metrics/<name>`."""
    if not metric_id:
        return None
    cut = metric_id.lower().find(_METRIC_ID_SUFFIX)
    return metric_id[:cut] if cut > 0 else None
