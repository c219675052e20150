"""Azure Monitor Metrics batch API (``POST /subscriptions/{sub}/metrics:getBatch``).

The service is regional (``https://<region>.metrics.monitor.azure.com``); the sandbox has one loopback host, so
the region is the first path segment instead: ``{base}/metrics/<region>`` is a regional endpoint
(:func:`endpoint_template`). Each seeded series has a region (default :data:`DEFAULT_REGION`).

It refuses, with 400 and the service's error body (``{"error": {"code", "message"}}``), what the batch API
refuses: more than 50 resource ids, ids of another subscription than the path's, of more than one resource type,
of a resource in another region than the endpoint's, and an interval that is not a supported time grain. The
time-grain message is the one the Metrics API is reported to answer (promitor and azure-libraries-for-net
issues); the other messages' wording is the sandbox's own (the limits are Microsoft Learn's "Migrate from the
metrics API to the getBatch API"), and the status of a wrong-region request is unverified.

Seeded series are raw points; a query aggregates them into interval buckets the way the service does.
Choices where the service's behaviour is not pinned down by a recording:

* buckets start at the request's start time floored to the minute, one per interval while they begin
  before ``endtime`` (the recorded answer: 09:36:27..10:36:27 at PT5M gives 12 buckets from 09:36);
* a bucket with no points carries only its ``timeStamp`` (no aggregate keys);
* a metric name the resource never had answers a metric with an empty ``timeseries`` list;
* dimensions named in the filter (``eq 'v'`` or ``eq '*'``) split the answer into one series per value
  combination, with those dimensions as ``metadatavalues``; without a filter all series are merged;
* no ``aggregation`` parameter means ``total`` (the primary aggregation of the count metrics this app reads);
* only ``and`` filters are understood; ``or`` answers 400;
* with a filter, at most ``top`` series (default 10) are answered for the whole batch, silently: the reference
  says "per resource ID", but users of the batch API observe it over the batch (azure-sdk-for-go#22757).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from .errors import ServiceError
from .timeutil import format_datetime, format_duration, parse_datetime, parse_duration

_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "total": sum,
    "average": lambda values: sum(values) / len(values),
    "minimum": min,
    "maximum": max,
    "count": len,
}
DEFAULT_REGION = "westeurope"
BATCH_LIMIT = 50
_TIME_GRAINS = {
    timedelta(minutes=m): text
    for m, text in (
        (1, "00:01:00"),
        (5, "00:05:00"),
        (15, "00:15:00"),
        (30, "00:30:00"),
        (60, "01:00:00"),
        (360, "06:00:00"),
        (720, "12:00:00"),
        (1440, "1.00:00:00"),
    )
}
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourcegroups/[^/]+/providers/"
    r"(?P<namespace>[^/]+)(?P<path>(?:/[^/]+/[^/]+)+)$",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"^\s*(?P<dim>.+?)\s+eq\s+'(?P<value>[^']*)'\s*$", re.IGNORECASE)


@dataclass
class Series:
    """One seeded time series: a metric of a resource with one combination of dimension values."""

    resource_id: str
    namespace: str
    metric: str
    unit: str
    dimensions: dict[str, str]
    points: list[tuple[datetime, float]] = field(default_factory=list)
    region: str = DEFAULT_REGION

    def dimension(self, name: str) -> str | None:
        """Dimension names are case-insensitive in Azure Monitor."""
        return next((v for k, v in self.dimensions.items() if k.lower() == name.lower()), None)


def endpoint_template(base_url: str) -> str:
    """The METRICS_ENDPOINT template for a sandbox at *base_url*: ``{region}`` stands where Azure has it in the host."""
    return f"{base_url}/metrics/{{region}}"


def parse_filter(text: str | None) -> list[tuple[str, str]]:
    """``A eq 'a1' and B eq '*'`` -> ``[("A", "a1"), ("B", "*")]``."""
    if not text:
        return []
    if re.search(r"\s+or\s+", text, re.IGNORECASE):
        raise ServiceError(400, "BadRequest", "The sandbox understands only 'and' metric filters")
    clauses = []
    for part in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match:
            raise ServiceError(400, "BadRequest", f"Invalid filter clause: {part!r}")
        clauses.append((match["dim"], match["value"]))
    return clauses


@dataclass
class _Request:
    """What one batch request asks of every resource: the buckets, the visible time and the aggregates."""

    start: datetime
    end: datetime
    now: datetime
    interval: timedelta
    aggregations: list[str]
    clauses: list[tuple[str, str]]
    top: int

    @cached_property
    def buckets(self) -> list[datetime]:
        first = self.start.replace(second=0, microsecond=0)
        return [first + i * self.interval for i in range(math.ceil((self.end - self.start) / self.interval))]

    def bucket_of(self, when: datetime) -> int | None:
        """The bucket index of a point, or None when the point is outside the window or still in the future."""
        buckets = self.buckets
        if not buckets or not (self.start <= when < self.end and when <= self.now):
            return None
        index = (when - buckets[0]) // self.interval
        return index if 0 <= index < len(buckets) else None

    @classmethod
    def parse(cls, params: dict[str, str], now: datetime) -> _Request:
        try:
            end = parse_datetime(params["endtime"]) if params.get("endtime") else now
            start = parse_datetime(params["starttime"]) if params.get("starttime") else end - timedelta(hours=1)
            interval = parse_duration(params.get("interval") or "PT1M")
            top = int(params.get("top") or 10)
        except ValueError as exc:
            raise ServiceError(400, "BadRequest", str(exc)) from exc
        aggregations = [a.strip().lower() for a in (params.get("aggregation") or "total").split(",")]
        unknown = [a for a in aggregations if a not in _AGGREGATES]
        if unknown:
            raise ServiceError(400, "BadRequest", f"Invalid aggregation {unknown}")
        if interval not in _TIME_GRAINS:
            raise ServiceError(
                400,
                "BadRequest",
                f"Invalid time grain duration: {params.get('interval')}, "
                f"supported ones are: {','.join(_TIME_GRAINS.values())}",
            )
        return cls(start, end, now, interval, aggregations, parse_filter(params.get("filter")), top)


class Metrics:
    """Seeded series and the batch query over them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: list[Series] = []

    def add_series(
        self,
        resource_id: str,
        namespace: str,
        metric: str,
        points: Sequence[tuple[Any, float]],
        *,
        dimensions: dict[str, str] | None = None,
        unit: str = "Count",
        region: str = DEFAULT_REGION,
    ) -> None:
        series = Series(
            resource_id,
            namespace,
            metric,
            unit,
            dict(dimensions or {}),
            [(parse_datetime(t), float(v)) for t, v in points],
            region.lower(),
        )
        with self._lock:
            self._series.append(series)

    def clear(self) -> None:
        with self._lock:
            self._series.clear()

    def definitions(self, resource_id: str, params: dict[str, str]) -> dict[str, Any]:
        """ARM's metric definitions of a resource (api-version 2018-01-01), one per metric seeded on it, in
        `metricnamespace` when given. A resource with no series is not found (ARM's 404 body); a namespace it
        has no series in answers an empty list (the sandbox's choice: what Azure answers for a misspelt namespace
        is not recorded in the team's samples)."""
        if params.get("api-version") != "2018-01-01":
            raise ServiceError(400, "InvalidApiVersionParameter", "The sandbox answers api-version 2018-01-01.")
        namespace = params.get("metricnamespace", "").lower()
        with self._lock:
            on_resource = [s for s in self._series if s.resource_id.lower() == resource_id.lower()]
        if not on_resource:
            parts = resource_id.strip("/").split("/")
            raise ServiceError(
                404,
                "ResourceNotFound",
                f"The Resource '{'/'.join(parts[5:])}' under resource group '{parts[3] if len(parts) > 3 else ''}' "
                "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        by_name: dict[str, Series] = {}
        for series in on_resource:
            if not namespace or series.namespace.lower() == namespace:
                by_name.setdefault(series.metric, series)
        return {"value": [_definition(resource_id, series) for series in by_name.values()]}

    def get_batch(
        self, region: str, subscription: str, params: dict[str, str], body: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """The ``{"values": [...]}`` answer for one batch request to *region*'s endpoint, at sandbox time *now*."""
        request = _Request.parse(params, now)
        namespace = params.get("metricnamespace", "")
        names = [n for n in params.get("metricnames", "").split(",") if n]
        if not names:
            raise ServiceError(400, "BadRequest", "metricnames is required")
        with self._lock:
            series = list(self._series)
        resource_ids = body.get("resourceids") or []
        _check_batch(region.lower(), subscription, resource_ids, series)
        values = []
        for resource_id in resource_ids:
            mine = [
                s
                for s in series
                if s.resource_id.lower() == resource_id.lower() and s.namespace.lower() == namespace.lower()
            ]
            values.append(
                {
                    "starttime": format_datetime(request.start),
                    "endtime": format_datetime(request.end),
                    "interval": format_duration(request.interval),
                    "value": [
                        _metric(resource_id, name, [s for s in mine if s.metric.lower() == name.lower()], request)
                        for name in names
                    ],
                    "namespace": namespace,
                    "resourceregion": region.lower(),
                    "resourceid": resource_id,
                }
            )
        if request.clauses:
            _keep_top(values, request.top)
        return {"values": values}


def _keep_top(values: list[dict[str, Any]], top: int) -> None:
    """Drop the series after the first *top* of the batch."""
    for metric in (metric for value in values for metric in value["value"]):
        metric["timeseries"] = metric["timeseries"][: max(top, 0)]
        top -= len(metric["timeseries"])


def _check_batch(region: str, subscription: str, resource_ids: list[Any], series: list[Series]) -> None:
    """Refuse a batch the service refuses: too many ids, or ids of several subscriptions, types or regions."""
    if not resource_ids or len(resource_ids) > BATCH_LIMIT:
        raise ServiceError(
            400,
            "BadRequest",
            f"The request must name between 1 and {BATCH_LIMIT} resource ids, not {len(resource_ids)}.",
        )
    types = set()
    for resource_id in resource_ids:
        match = _RESOURCE_ID.match(resource_id) if isinstance(resource_id, str) else None
        if match is None:
            raise ServiceError(400, "BadRequest", f"Invalid resource id: {resource_id!r}.")
        if match["subscription"].lower() != subscription.lower():
            raise ServiceError(
                400,
                "BadRequest",
                f"Resource {resource_id} is not in subscription {subscription}: "
                "all resources of a batch must be in the subscription of the path.",
            )
        types.add("/".join([match["namespace"], *match["path"].strip("/").split("/")[::2]]).lower())
        regions = {s.region for s in series if s.resource_id.lower() == resource_id.lower()}
        if regions and region not in regions:
            raise ServiceError(
                400,
                "BadRequest",
                f"Resource {resource_id} is in region {', '.join(sorted(regions))}, "
                f"not {region}: query it from the endpoint of its region.",
            )
    if len(types) > 1:
        raise ServiceError(
            400, "BadRequest", f"All resources of a batch must be of one resource type, not {', '.join(sorted(types))}."
        )


def _metric(resource_id: str, name: str, series: list[Series], request: _Request) -> dict[str, Any]:
    """One metric object: its series filtered, grouped by the filter's dimensions and bucketed."""
    clauses = request.clauses
    groups: dict[tuple[str, ...], list[Series]] = {}
    for s in series:
        if all(value == "*" or (s.dimension(dim) or "").lower() == value.lower() for dim, value in clauses):
            groups.setdefault(tuple(s.dimension(dim) or "" for dim, _ in clauses), []).append(s)
    if series and not clauses and not groups:
        groups[()] = []
    timeseries = []
    for key, members in groups.items():
        by_bucket: dict[int, list[float]] = {}
        for when, value in (point for s in members for point in s.points):
            index = request.bucket_of(when)
            if index is not None:
                by_bucket.setdefault(index, []).append(value)
        data = []
        for index, stamp in enumerate(request.buckets):
            point: dict[str, Any] = {"timeStamp": format_datetime(stamp)}
            if index in by_bucket:
                point.update({agg: _AGGREGATES[agg](by_bucket[index]) for agg in request.aggregations})
            data.append(point)
        timeseries.append(
            {
                "metadatavalues": [
                    {"name": {"value": dim, "localizedValue": dim}, "value": value}
                    for (dim, _), value in zip(clauses, key, strict=True)
                ],
                "data": data,
            }
        )
    return {
        "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
        "type": "Microsoft.Insights/metrics",
        "name": {"value": name, "localizedValue": name},
        "displayDescription": "",
        "unit": series[0].unit if series else "Unspecified",
        "timeseries": timeseries,
        "errorCode": "Success",
    }


def _definition(resource_id: str, series: Series) -> dict[str, Any]:
    """One metric definition as ARM writes it (Microsoft Learn, Metric Definitions - List, 2018-01-01)."""
    return {
        "id": f"{resource_id}/providers/microsoft.insights/metricdefinitions/{series.metric}",
        "resourceId": resource_id,
        "namespace": series.namespace,
        "name": {"value": series.metric, "localizedValue": series.metric},
        "isDimensionRequired": False,
        "unit": series.unit,
        "primaryAggregationType": "Average",
        "supportedAggregationTypes": ["None", "Average", "Minimum", "Maximum", "Total", "Count"],
        "metricAvailabilities": [{"timeGrain": grain, "retention": "P93D"} for grain in ("PT1M", "PT5M", "PT1H")],
        "dimensions": [{"value": name, "localizedValue": name} for name in series.dimensions],
    }
