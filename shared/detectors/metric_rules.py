"""Metric rules: a small state machine per rule and series, fed one data point at a time.

    OK      + `consecutive` breaching points in a row  -> FIRING, "firing" notice
    FIRING  + `consecutive` healthy points in a row    -> OK, "resolved" notice
    FIRING  + still breaching, `repeat_every` passed   -> "repeat" notice
    anything shorter (a flapping series)              -> no notice

Points are replayed in time order from where the last evaluation stopped, so an episode that starts and ends
between two scans is still reported, and two instances evaluating the same points produce the same notices
(whose keys the outbox claims once).

Also what one Metrics API call may read (`batch_calls`), the notices' view and the spec; the engine that reads
the series and keeps their states is shared/scans/metric_scan.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.core.links import portal_resource_url
from shared.core.resource_ids import parse_resource_id, resource_name
from shared.detectors.base import DetectorSpec, DigestLine, Shape, ViewOptions
from shared.rules import MetricRule, resource_scope

KIND = "metric"
RECENT_POINTS = 12  # shown in the email


class SeriesStatus(StrEnum):
    OK = "ok"
    FIRING = "firing"


class NoticeKind(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    REPEAT = "repeat"


@dataclass(frozen=True)
class Series:
    """One time series of a rule: a resource and one combination of dimension values."""

    resource_id: str
    dimensions: dict[str, str]
    points: list[tuple[datetime, float | None]]  # in time order; None: no value in that interval

    @property
    def key(self) -> str:
        dims = ",".join(f"{k.lower()}={v}" for k, v in sorted(self.dimensions.items()))
        return f"{self.resource_id.lower()}|{dims}"

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SeriesState:
    status: SeriesStatus = SeriesStatus.OK
    streak: int = 0  # points in a row that argue for leaving the current status
    streak_start: datetime | None = None
    episode_start: datetime | None = None  # first breaching point of the current firing episode
    last_point: datetime | None = None  # newest point already evaluated
    last_notified: datetime | None = None  # point time of the last firing or repeat notice


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    rule: str
    series_key: str
    episode_start: datetime
    at: datetime  # the point that caused it
    value: float
    recent: list[tuple[datetime, float | None]] = field(default_factory=list)

    @property
    def key(self) -> str:
        series = hashlib.sha256(self.series_key.encode()).hexdigest()[:16]
        suffix = f"repeat:{self.at.isoformat()}" if self.kind is NoticeKind.REPEAT else self.kind.value
        return f"{KIND}:{self.rule}:{series}:{self.episode_start.isoformat()}:{suffix}"


def evaluate(rule: MetricRule, series: Series, state: SeriesState, now: datetime) -> tuple[SeriesState, list[Notice]]:
    """Feed the series' new, complete points through the state machine."""
    notices: list[Notice] = []
    for at, value in series.points:
        if value is None or (state.last_point is not None and at <= state.last_point) or at + rule.interval > now:
            continue  # no data, already evaluated, or the interval is not over yet (its value may still grow)
        state, notice = _step(rule, state, at, value)
        if notice is not None:
            recent = [p for p in series.points if p[0] <= at][-RECENT_POINTS:]
            notices.append(Notice(notice, rule.name, series.key, state.episode_start or at, at, value, recent))
            if notice is NoticeKind.RESOLVED:
                state = replace(state, episode_start=None)
    return state, notices


def _step(rule: MetricRule, state: SeriesState, at: datetime, value: float) -> tuple[SeriesState, NoticeKind | None]:
    breaching = rule.breaches(value)
    leaving = breaching if state.status is SeriesStatus.OK else not breaching
    streak = state.streak + 1 if leaving else 0
    streak_start = (state.streak_start if state.streak else at) if leaving else None
    state = replace(state, streak=streak, streak_start=streak_start, last_point=at)
    if streak >= rule.consecutive:
        if state.status is SeriesStatus.OK:
            return replace(
                state,
                status=SeriesStatus.FIRING,
                streak=0,
                streak_start=None,
                episode_start=streak_start,
                last_notified=at,
            ), NoticeKind.FIRING
        # The resolved notice names the episode it ends; evaluate() clears it afterwards.
        return replace(state, status=SeriesStatus.OK, streak=0, streak_start=None), NoticeKind.RESOLVED
    if (
        state.status is SeriesStatus.FIRING
        and breaching
        and rule.repeat_every is not None
        and state.last_notified is not None
        and at - state.last_notified >= rule.repeat_every
    ):
        return replace(state, last_notified=at), NoticeKind.REPEAT
    return state, None


def notice_labels(rule: MetricRule, series: Series) -> dict[str, str]:
    """`workspace`: the name of the workspace the resource is or belongs to (Azure ML, Log Analytics), if any."""
    resource = parse_resource_id(series.resource_id.rstrip("/"))
    workspace = (resource.name_of("workspaces") if resource else None) or ""
    return {"kind": KIND, "rule": rule.name, "workspace": workspace}


def notice_payload(rule: MetricRule, series: Series, notice: Notice) -> dict[str, Any]:
    """What the email shows; JSON-ready."""
    return {
        "notice": notice.kind.value,
        "rule": rule.name,
        "description": rule.description,
        "metric": rule.metric,
        "namespace": rule.namespace,
        "aggregation": rule.aggregation,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "filter": rule.filter or "",
        "interval_minutes": rule.interval.total_seconds() / 60,
        "consecutive": rule.consecutive,
        "resource_id": series.resource_id,
        "dimensions": series.dimensions,
        "episode_start": notice.episode_start.isoformat(),
        "at": notice.at.isoformat(),
        "value": notice.value,
        "recent": [[at.isoformat(), value, value is not None and rule.breaches(value)] for at, value in notice.recent],
    }


def view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    recent = [
        {"at": datetime.fromisoformat(at), "value": value, "breaching": breaching}
        for at, value, breaching in payload["recent"]
    ]
    state = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}[payload["notice"]]
    resource = resource_name(payload["resource_id"])
    return {
        "subject": f"[AML] {state}: {payload['rule']} on {resource} ({payload['metric']} = {payload['value']:g})",
        "n": payload,
        "episode_start": datetime.fromisoformat(payload["episode_start"]),
        "at": datetime.fromisoformat(payload["at"]),
        "recent": recent,
        "digest": DigestLine(
            datetime.fromisoformat(payload["episode_start"]),
            resource,
            portal_resource_url(payload["resource_id"]),
            f"{payload['metric']} = {payload['value']:g} ({payload['operator']} {payload['threshold']:g})",
        ),
    }


SPEC = DetectorSpec(
    kind=KIND,
    title="metric notices",
    shape=Shape.METRICS,
    view=view,
    templates="metric_notice",
    scan="metrics",
    function="scan_metrics",
    schedule_setting="METRICS_SCHEDULE",
    rules_section="metric_rules",
)


# --- what one getBatch call may read -------------------------------------------------------------------------------


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
