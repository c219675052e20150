"""Azure Monitor Metrics batch API (``POST /subscriptions/{sub}/metrics:getBatch``).

Seeded series are raw points; a query aggregates them into interval buckets the way the service does.
Choices where the service's behaviour is not pinned down by a recording:

* buckets start at the request's start time floored to the minute, one per interval while they begin
  before ``endtime`` (the recorded answer: 09:36:27..10:36:27 at PT5M gives 12 buckets from 09:36);
* a bucket with no points carries only its ``timeStamp`` (no aggregate keys);
* a metric name the resource never had answers a metric with an empty ``timeseries`` list;
* dimensions named in the filter (``eq 'v'`` or ``eq '*'``) split the answer into one series per value
  combination, with those dimensions as ``metadatavalues``; without a filter all series are merged;
* no ``aggregation`` parameter means ``total`` (the primary aggregation of the count metrics this app reads);
* only ``and`` filters are understood; ``or`` answers 400.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from .errors import ServiceError
from .timeutil import format_datetime, format_duration, parse_datetime, parse_duration

_AGGREGATES = {
    "total": sum,
    "average": lambda values: sum(values) / len(values),
    "minimum": min,
    "maximum": max,
    "count": len,
}
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

    def dimension(self, name: str) -> str | None:
        """Dimension names are case-insensitive in Azure Monitor."""
        return next((v for k, v in self.dimensions.items() if k.lower() == name.lower()), None)


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
        except ValueError as exc:
            raise ServiceError(400, "BadRequest", str(exc)) from exc
        aggregations = [a.strip().lower() for a in (params.get("aggregation") or "total").split(",")]
        unknown = [a for a in aggregations if a not in _AGGREGATES]
        if unknown or interval <= timedelta(0):
            raise ServiceError(400, "BadRequest", f"Invalid aggregation {unknown} or interval {interval}")
        return cls(start, end, now, interval, aggregations, parse_filter(params.get("filter")))


class Metrics:
    """Seeded series and the batch query over them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: list[Series] = []

    def add_series(self, resource_id: str, namespace: str, metric: str, points: list[tuple[Any, float]], *,
                   dimensions: dict[str, str] | None = None, unit: str = "Count") -> None:
        series = Series(resource_id, namespace, metric, unit, dict(dimensions or {}),
                        [(parse_datetime(t), float(v)) for t, v in points])
        with self._lock:
            self._series.append(series)

    def clear(self) -> None:
        with self._lock:
            self._series.clear()

    def get_batch(self, params: dict[str, str], body: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The ``{"values": [...]}`` answer for one batch request, seen at sandbox time *now*."""
        request = _Request.parse(params, now)
        namespace = params.get("metricnamespace", "")
        names = [n for n in params.get("metricnames", "").split(",") if n]
        if not names:
            raise ServiceError(400, "BadRequest", "metricnames is required")
        with self._lock:
            series = list(self._series)
        values = []
        for resource_id in body.get("resourceids") or []:
            mine = [s for s in series
                    if s.resource_id.lower() == resource_id.lower() and s.namespace.lower() == namespace.lower()]
            values.append({
                "starttime": format_datetime(request.start),
                "endtime": format_datetime(request.end),
                "interval": format_duration(request.interval),
                "value": [_metric(resource_id, name, [s for s in mine if s.metric.lower() == name.lower()], request)
                          for name in names],
                "namespace": namespace,
                "resourceregion": "local",
                "resourceid": resource_id,
            })
        return {"values": values}


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
        timeseries.append({
            "metadatavalues": [{"name": {"value": dim, "localizedValue": dim}, "value": value}
                               for (dim, _), value in zip(clauses, key, strict=True)],
            "data": data,
        })
    return {
        "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
        "type": "Microsoft.Insights/metrics",
        "name": {"value": name, "localizedValue": name},
        "displayDescription": "",
        "unit": series[0].unit if series else "Unspecified",
        "timeseries": timeseries,
        "errorCode": "Success",
    }
