"""The metric state machine: firing, resolved and repeat notices, and no flapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.detectors.metric_rules import NoticeKind, Series, SeriesState, SeriesStatus, evaluate
from shared.rules import MetricRule

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
RULE = MetricRule(
    name="drift",
    resource_ids=["/subscriptions/s/resourceGroups/g/providers/microsoft.insights/components/ai"],
    namespace="azure.applicationinsights",
    metric="drift_score",
    aggregation="Maximum",
    operator="GreaterThan",
    threshold=0.3,
    interval=STEP,
    consecutive=3,
    repeat_every=timedelta(minutes=30),
)
HIGH, LOW = 0.9, 0.1


def _series(values, start=T0):
    return Series(RULE.resource_ids[0], {"feature": "age"}, [(start + i * STEP, v) for i, v in enumerate(values)])


def _run(values, now=None, state=None, rule=RULE):
    series, state = _series(values), state or SeriesState()
    now = now or T0 + STEP * (len(values) + 1)
    return evaluate(rule, series, state, now)


def _kinds(notices):
    return [(n.kind, n.at) for n in notices]


def test_breach_recover_breach_fires_resolves_fires_and_nothing_between():
    values = [LOW, HIGH, HIGH, HIGH, LOW, LOW, LOW, HIGH, HIGH, HIGH]
    state, notices = _run(values)
    assert _kinds(notices) == [
        (NoticeKind.FIRING, T0 + 3 * STEP),
        (NoticeKind.RESOLVED, T0 + 6 * STEP),
        (NoticeKind.FIRING, T0 + 9 * STEP),
    ]
    assert notices[0].episode_start == T0 + STEP  # the first breaching point of the episode
    assert notices[1].episode_start == notices[0].episode_start  # resolved names the episode it ends
    assert notices[2].episode_start == T0 + 7 * STEP
    assert len({n.key for n in notices}) == 3
    assert state.status is SeriesStatus.FIRING


def test_a_flapping_series_below_the_limit_sends_nothing():
    _, notices = _run([HIGH, HIGH, LOW, HIGH, HIGH, LOW, HIGH, LOW, HIGH, HIGH, LOW])
    assert notices == []


def test_a_dip_while_firing_does_not_resolve_early():
    _, notices = _run([HIGH, HIGH, HIGH, LOW, LOW, HIGH, LOW, LOW])
    assert [n.kind for n in notices] == [NoticeKind.FIRING]


def test_repeat_while_it_keeps_firing():
    _, notices = _run([HIGH] * 15)  # repeat_every is 30 minutes: six points
    assert _kinds(notices) == [
        (NoticeKind.FIRING, T0 + 2 * STEP),
        (NoticeKind.REPEAT, T0 + 8 * STEP),
        (NoticeKind.REPEAT, T0 + 14 * STEP),
    ]
    assert len({n.key for n in notices}) == 3


def test_missing_values_and_unfinished_intervals_are_not_evaluated():
    values = [HIGH, None, HIGH, HIGH]
    _, notices = _run(values, now=T0 + 4 * STEP - timedelta(seconds=1))  # the last interval is not over yet
    assert notices == []
    _, notices = _run(values, now=T0 + 4 * STEP)
    assert [n.kind for n in notices] == [NoticeKind.FIRING]


def test_points_already_evaluated_are_not_evaluated_again():
    state, first = _run([HIGH, HIGH, HIGH])
    again, second = evaluate(RULE, _series([HIGH, HIGH, HIGH]), state, T0 + 10 * STEP)
    assert len(first) == 1 and second == []
    assert again == state


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([HIGH, LOW, None]), max_size=40), st.lists(st.integers(1, 40), max_size=5))
def test_evaluating_in_several_scans_gives_the_same_notices_as_one(values, cuts):
    whole_state, whole = _run(values)
    state, notices = SeriesState(), []
    for cut in [*sorted(set(cuts)), len(values) + 1]:
        state, found = evaluate(RULE, _series(values), state, T0 + STEP * cut)
        notices += found
    assert [n.key for n in notices] == [n.key for n in whole]
    assert state == whole_state


def test_the_query_starts_on_the_interval_grid_whatever_the_schedule():
    from shared.scans.metric_scan import query_start

    rule = RULE
    for minute in range(10):
        now = datetime(2026, 3, 2, 10, minute, 7, tzinfo=UTC)
        start = query_start(rule, [], now)
        assert (start - datetime(1970, 1, 1, tzinfo=UTC)) % rule.interval == timedelta(0)
        assert now - start >= rule.interval * (rule.consecutive + 2)
