"""The metric scan: for each rule, one Metrics API call per region, subscription and resource type, every series
through its state machine, each notice claimed in the outbox (so two instances send it once), the states saved.
A series whose call failed keeps its state and is caught up from its last point next tick."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared import outbox
from shared.metric_rules import KIND, Notice, SeriesState, evaluate, notice_labels, notice_payload
from shared.metrics_api import MetricsApi
from shared.routing import Router
from shared.rules import MetricRule
from shared.state_tables import StateTables

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CATCH_UP = timedelta(days=1)  # after an outage, replay at most this much history


@dataclass
class RuleScan:
    rule: str
    series: int = 0
    notices: list[Notice] = field(default_factory=list)
    claimed: int = 0
    calls: int = 0
    failures: list[str] = field(default_factory=list)  # calls that failed, with the reason


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
    def __init__(self, rules: list[MetricRule], metrics: MetricsApi, state: StateTables, route: Router) -> None:
        self._rules = rules
        self._metrics = metrics
        self._state = state
        self._route = route

    def run(self, now: datetime) -> list[RuleScan]:
        return [self._scan_rule(rule, now) for rule in self._rules]

    def _scan_rule(self, rule: MetricRule, now: datetime) -> RuleScan:
        states = self._state.metric_states(rule.name)
        read = self._metrics.read(rule, query_start(rule, list(states.values()), now), now)
        scan = RuleScan(rule.name, series=len(read.series), calls=read.calls, failures=read.failures)
        changed: dict[str, tuple[str, SeriesState]] = {}
        for series in read.series:
            before = states.get(series.key_hash, SeriesState())
            after, notices = evaluate(rule, series, before, now)
            for notice in notices:
                record = outbox.new_record(
                    notice.key,
                    KIND,
                    notice_payload(rule, series, notice),
                    self._route(notice_labels(rule, series)),
                    now,
                    now,
                    labels=notice_labels(rule, series),
                )
                scan.claimed += self._state.claim_incident(record)
                log.info("Metric rule %s: %s for %s at %s", rule.name, notice.kind, series.key, notice.at)
            scan.notices.extend(notices)
            if after != before:
                changed[series.key_hash] = (series.key, after)
        # Saved after the claims: a crash in between replays the same points and the claims absorb the repeat.
        if changed:
            self._state.save_metric_states(rule.name, changed)
        return scan
