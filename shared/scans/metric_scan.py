"""The metric engine: for each rule, one Metrics API call per region, subscription and resource type, every series
through its state machine (detectors/metric_rules.py), the notices through the intake (so two instances send each
once), the states saved. A call that fails is reported, not raised: the rule's other calls are still evaluated,
and a series whose call failed keeps its state and is caught up from its last point next tick."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.azure.metrics import MAX_SERIES, MetricQuery, MetricsApi
from shared.detectors.base import Detected
from shared.detectors.metric_rules import (
    KIND,
    BatchCall,
    Series,
    SeriesState,
    batch_calls,
    evaluate,
    notice_labels,
    notice_payload,
)
from shared.outbox.intake import Intake
from shared.rules import MetricRule
from shared.scans.metric_states import MetricStates
from shared.scans.reports import RuleScan

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CATCH_UP = timedelta(days=1)  # after an outage, replay at most this much history


@dataclass
class MetricsRead:
    """What the calls of one rule returned: every series, and the calls that failed (to retry next tick)."""

    series: list[Series] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    calls: int = 0


def query_start(rule: MetricRule, states: list[SeriesState], now: datetime) -> datetime:
    """Enough points for one decision, and back to the oldest series' last evaluated point so no series skips
    one (evaluate() ignores points it has already seen)."""
    fresh_start = now - rule.interval * (rule.consecutive + 2)
    known = [state.last_point for state in states if state.last_point is not None]
    start = max(min([fresh_start, *known]), now - MAX_CATCH_UP)
    # On the interval's grid (from the epoch): the service buckets from the start time, so every instance and
    # every schedule (a timer at :00, another at :04, a CLI run) sees the same buckets and the same points.
    return start - (start - _EPOCH) % rule.interval


class MetricScan:
    def __init__(
        self,
        rules: list[MetricRule],
        metrics: MetricsApi,
        states: MetricStates,
        intake: Intake,
        default_region: str | None,
    ) -> None:
        self._rules = rules
        self._metrics = metrics
        self._states = states
        self._intake = intake
        self.default_region = default_region

    def run(self, now: datetime) -> list[RuleScan]:
        return [self._scan_rule(rule, now) for rule in self._rules]

    def read(self, rule: MetricRule, start: datetime, end: datetime) -> MetricsRead:
        """Every series of the rule's metric on its resources (one per resource and dimension combination)."""
        from azure.core.exceptions import AzureError

        read = MetricsRead()
        query = MetricQuery(rule.namespace, rule.metric, rule.aggregation, rule.interval, rule.filter)
        for call in batch_calls(rule, self.default_region):
            read.calls += 1
            try:
                read.series.extend(self._call(rule, call, query, start, end))
            except AzureError as err:  # refused, throttled past the retries, unreachable: retried next tick
                reason = (getattr(err, "message", None) or str(err)).splitlines()[0]
                log.error("Metric rule %s: the call for %s failed: %s", rule.name, call.describe(), reason)
                read.failures.append(f"{call.describe()}: {reason}")
        return read

    def _call(
        self, rule: MetricRule, call: BatchCall, query: MetricQuery, start: datetime, end: datetime
    ) -> list[Series]:
        found = self._metrics.query(call.region, call.resource_ids, query, start, end)
        if len(found) >= MAX_SERIES:
            log.warning(
                "Metric rule %s: %s answered %d series, the most asked for: some may be missing",
                rule.name,
                call.describe(),
                len(found),
            )
        return [Series(series.resource_id, series.dimensions, series.points) for series in found]

    def preview(self, now: datetime) -> list[tuple[RuleScan, list[Detected]]]:
        """What a tick would send now, per rule: reads the states and the metrics, records and saves nothing
        (`scan metrics --dry-run`)."""
        return [self._evaluate(rule, now)[:2] for rule in self._rules]

    def _scan_rule(self, rule: MetricRule, now: datetime) -> RuleScan:
        scan, detected, changed = self._evaluate(rule, now)
        scan.claimed = self._intake.record(detected, now, source=f"metric rule {rule.name}").claimed
        # Saved after the claims: a crash in between replays the same points and the claims absorb the repeat.
        if changed:
            self._states.save(rule.name, changed)
        return scan

    def _evaluate(
        self, rule: MetricRule, now: datetime
    ) -> tuple[RuleScan, list[Detected], dict[str, tuple[str, SeriesState]]]:
        states = self._states.load(rule.name)
        read = self.read(rule, query_start(rule, list(states.values()), now), now)
        scan = RuleScan(rule.name, series=len(read.series), calls=read.calls, failures=read.failures)
        changed: dict[str, tuple[str, SeriesState]] = {}
        detected: list[Detected] = []
        for series in read.series:
            before = states.get(series.key_hash, SeriesState())
            after, notices = evaluate(rule, series, before, now)
            for notice in notices:
                labels = notice_labels(rule, series)
                detected.append(Detected(notice.key, KIND, notice_payload(rule, series, notice), labels, now))
                log.info("Metric rule %s: %s for %s at %s", rule.name, notice.kind, series.key, notice.at)
            scan.notices.extend(notices)
            if after != before:
                changed[series.key_hash] = (series.key, after)
        return scan, detected, changed
