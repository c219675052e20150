"""Expected fire times of Azure ML schedules: the team's test vectors, DST edges, time zones, the cron dialect,
and properties over generated triggers."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from shared.detectors.schedule_model import CronTrigger, RecurrenceTrigger, Trigger
from shared.detectors.schedule_times import (
    Unevaluable,
    aml_cron,
    fire_times,
    near_offset_change,
    schedule_moment,
    schedule_zone,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "aml-schedules"
VECTORS = json.loads((DATA / "fire-time-vectors.json").read_text())
WINDOW = (datetime.fromisoformat(VECTORS["window"]["from"]), datetime.fromisoformat(VECTORS["window"]["to"]))
BERLIN = "W. Europe Standard Time"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00") if len(text) > 17 else text.replace("Z", ":00+00:00"))


def _trigger(body: dict) -> CronTrigger | RecurrenceTrigger:
    return TypeAdapter(Trigger).validate_python(body)


@pytest.mark.parametrize("name", [name for name, s in VECTORS["schedules"].items() if s["isEnabled"]])
def test_every_enabled_sample_schedule_fires_as_the_vectors_say(name):
    """Windowed by the trigger's start and end, as the check does (a disabled one has no fire times at all:
    test_schedules.py)."""
    trigger = _trigger(VECTORS["schedules"][name]["trigger"])
    zone = schedule_zone(trigger.time_zone)
    start, end = schedule_moment(trigger.start_time, zone), schedule_moment(trigger.end_time, zone)
    assert start is not None
    window_end = min(WINDOW[1], end) if end else WINDOW[1]
    times = fire_times(trigger, max(WINDOW[0], start), window_end, anchor=start)
    assert times == [_utc(t) for t in VECTORS["schedules"][name]["expected_fire_times_utc"]]


@pytest.mark.parametrize("case", [k for k in VECTORS["dst_library_behaviour"] if k != "zone"])
def test_dst_edges_follow_debian_cron_as_cronsim_does(case):
    """Spring forward: 02:30 does not exist, it fires at 03:00 CEST. Fall back: 02:30 happens twice, it fires
    once (croniter would fire twice: the vectors record both). A wildcard hour fires in both 02:00s."""
    vector = VECTORS["dst_library_behaviour"][case]
    expected = [_utc(t) for t in vector["cronsim_2_8"]]
    trigger = CronTrigger(trigger_type="Cron", expression=vector["expression"], time_zone=BERLIN)
    assert fire_times(trigger, expected[0], expected[-1] + timedelta(seconds=1), anchor=expected[0]) == expected


def test_a_recurrence_in_the_skipped_hour_is_read_with_the_offset_before_the_change():
    trigger = _trigger(
        {
            "triggerType": "Recurrence",
            "frequency": "Day",
            "interval": 1,
            "timeZone": BERLIN,
            "schedule": {"hours": [2], "minutes": [30]},
            "startTime": "2026-03-01T00:00:00",
        }
    )
    start = datetime(2026, 3, 28, tzinfo=UTC)
    times = fire_times(trigger, start, start + timedelta(days=3), anchor=datetime(2026, 3, 1, tzinfo=UTC))
    assert times == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]  # 29th: the missing 02:30 read as +01:00
    fall = datetime(2026, 10, 24, tzinfo=UTC)
    times = fire_times(trigger, fall, fall + timedelta(days=3), anchor=datetime(2026, 3, 1, tzinfo=UTC))
    assert times == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]  # the repeated 02:30 once


def test_an_hourly_recurrence_without_pattern_steps_in_real_time_across_dst():
    """`every 5 hours` is five real hours apart even over the night the clocks go forward."""
    trigger = _trigger(
        {
            "triggerType": "Recurrence",
            "frequency": "Hour",
            "interval": 5,
            "timeZone": BERLIN,
            "schedule": {"hours": [], "minutes": []},
            "startTime": "2026-03-28T20:00:00",
        }
    )
    anchor = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)  # 20:00 CET
    times = fire_times(trigger, anchor, anchor + timedelta(hours=16), anchor=anchor)
    assert [t - anchor for t in times] == [timedelta(hours=h) for h in (0, 5, 10, 15)]


def test_near_offset_change_marks_the_hours_around_a_dst_change_only():
    zone = ZoneInfo("Europe/Berlin")
    assert near_offset_change(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), zone)
    assert near_offset_change(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), zone)
    assert not near_offset_change(datetime(2026, 11, 25, 1, 0, tzinfo=UTC), zone)
    assert not near_offset_change(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("windows", "offset_hours"),
    [
        (None, 0),
        ("", 0),
        ("UTC", 0),
        ("UTC-11", -11),
        ("UTC+12", 12),
        ("Pacific Standard Time", -8),
        ("W. Europe Standard Time", 1),
        ("Mid-Atlantic Standard Time", -2),
        ("Kamchatka Standard Time", 12),
        ("india standard time", 5.5),
        ("Europe/Berlin", 1),
    ],
)
def test_windows_time_zone_ids_map_to_the_right_offset(windows, offset_hours):
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert winter.astimezone(schedule_zone(windows)).utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize("windows", ["Mars Standard Time", "../../etc/passwd", "UTC+25"])
def test_an_unknown_time_zone_is_unevaluable_not_guessed(windows):
    with pytest.raises(Unevaluable, match="unknown time zone"):
        schedule_zone(windows)


def test_start_and_end_times_are_wall_time_in_the_zone_unless_they_carry_an_offset():
    zone = schedule_zone("Pacific Standard Time")
    assert schedule_moment("2026-01-05T00:00:00", zone) == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert schedule_moment("2022-05-10T10:15:00-04:00", zone) == datetime(2022, 5, 10, 14, 15, tzinfo=UTC)
    assert schedule_moment("2026-01-05T00:00:00.1234567Z", zone) == datetime(2026, 1, 5, 0, 0, 0, 123456, UTC)
    assert schedule_moment(None, zone) is None
    with pytest.raises(Unevaluable):
        schedule_moment("next tuesday", zone)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("0 2 15 6 *", "0 2 * * *"),  # Azure ML ignores day-of-month and month
        ("30 6 1,15 * 1-5", "30 6 * * 1-5"),
        ("0 */6 * JAN MON,thu", "0 */6 * * MON,THU"),
        ("0 6 * * Monday,Friday", "0 6 * * MON,FRI"),
    ],
)
def test_aml_cron_keeps_minutes_hours_and_weekdays_only(expression, expected):
    assert aml_cron(expression) == expected


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 0 2 * * *", "five fields"),
        ("0 2 * *", "five fields"),
        ("0 2 * * 7", "0-6"),
        ("0 2 * * 5L", "not a day of the week"),
        ("0 2 * * 1#2", "NCrontab"),
        ("0 2 * * ?", "NCrontab"),
        ("0 25 * * *", "Bad hour"),
        ("0 2 * * FUNDAY", "day"),
    ],
)
def test_cron_outside_azure_ml_dialect_is_unevaluable(expression, problem):
    with pytest.raises(Unevaluable, match=problem):
        aml_cron(expression)


def test_a_cron_with_a_day_of_month_still_fires_every_day():
    trigger = CronTrigger(trigger_type="Cron", expression="0 2 1 1 *", time_zone="UTC")
    times = fire_times(trigger, WINDOW[0], WINDOW[0] + timedelta(days=3), anchor=WINDOW[0])
    assert len(times) == 3


def test_a_recurrence_started_years_ago_is_computed_from_its_phase():
    """Every 3 days from 2020-01-01 00:00 Berlin: the skip-ahead keeps the 3-day phase."""
    trigger = _trigger(
        {
            "triggerType": "Recurrence",
            "frequency": "Day",
            "interval": 3,
            "timeZone": BERLIN,
            "startTime": "2020-01-01T00:00:00",
        }
    )
    anchor = datetime(2019, 12, 31, 23, 0, tzinfo=UTC)
    times = fire_times(trigger, WINDOW[0], WINDOW[1], anchor=anchor)
    local_days = [(t.astimezone(ZoneInfo("Europe/Berlin")).date() - anchor.date()).days - 1 for t in times]
    assert times and all(day % 3 == 0 for day in local_days)
    assert all(t.astimezone(ZoneInfo("Europe/Berlin")).hour == 0 for t in times)


ZONES = [
    "UTC",
    BERLIN,
    "Pacific Standard Time",
    "AUS Eastern Standard Time",
    "India Standard Time",
    "Chatham Islands Standard Time",
]
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(
    minutes=st.sets(st.integers(0, 59), min_size=1, max_size=3),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=4),
    days=st.sets(st.integers(0, 6), min_size=1, max_size=7),
    zone=st.sampled_from(ZONES),
    start=moments,
    span=st.timedeltas(timedelta(0), timedelta(days=8)),
)
def test_cron_fire_times_are_sorted_unique_in_window_utc_and_respect_the_fields(
    minutes, hours, days, zone, start, span
):
    def field(values):
        return ",".join(str(v) for v in sorted(values))

    trigger = CronTrigger(
        trigger_type="Cron", expression=f"{field(minutes)} {field(hours)} 9 9 {field(days)}", time_zone=zone
    )
    times = fire_times(trigger, start, start + span, anchor=start)
    assert times == sorted(set(times))
    assert all(start <= t < start + span and t.utcoffset() == timedelta(0) for t in times)
    tz = schedule_zone(zone)
    for moment in times:
        local = moment.astimezone(tz)
        if not near_offset_change(moment, tz):  # in a DST gap cron fires at the end of the gap
            assert local.minute in minutes and local.hour in hours and (local.weekday() + 1) % 7 in days
    if span >= timedelta(days=7) and not any(near_offset_change(t, tz) for t in times):
        assert len(times) >= len(minutes) * len(hours) * len(days)  # at least every combination once a week


@settings(max_examples=150, deadline=None)
@given(
    frequency=st.sampled_from(["Minute", "Hour"]),
    interval=st.integers(1, 48),
    zone=st.sampled_from(ZONES),
    anchor=moments,
    offset=st.timedeltas(timedelta(days=-3), timedelta(days=30)),
    span=st.timedeltas(timedelta(0), timedelta(days=2)),
)
def test_a_recurrence_without_pattern_is_whole_intervals_from_its_start(
    frequency, interval, zone, anchor, offset, span
):
    trigger = RecurrenceTrigger(trigger_type="Recurrence", frequency=frequency, interval=interval, time_zone=zone)
    step = (timedelta(minutes=1) if frequency == "Minute" else timedelta(hours=1)) * interval
    start = anchor + offset
    times = fire_times(trigger, start, start + span, anchor=anchor)
    assert all(start <= t < start + span and t >= anchor and (t - anchor) % step == timedelta(0) for t in times)
    assert all(b - a == step for a, b in itertools.pairwise(times))
    if span > step * 2 and start >= anchor:
        assert times  # nothing skipped


@settings(max_examples=100, deadline=None)
@given(
    weekdays=st.sets(
        st.sampled_from(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]), min_size=1
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(ZONES),
    interval=st.integers(1, 3),
    start=moments,
)
def test_a_weekly_recurrence_fires_on_its_days_at_its_time(weekdays, hour, minute, zone, interval, start):
    trigger = _trigger(
        {
            "triggerType": "Recurrence",
            "frequency": "Week",
            "interval": interval,
            "timeZone": zone,
            "schedule": {"hours": [hour], "minutes": [minute], "weekDays": sorted(weekdays)},
            "startTime": "2024-12-30T00:00:00",
        }
    )
    tz = schedule_zone(zone)
    end = start + timedelta(weeks=interval)
    times = fire_times(trigger, start, end, anchor=datetime(2024, 12, 30, tzinfo=tz))
    if start.astimezone(tz).utcoffset() == end.astimezone(tz).utcoffset():
        assert len(times) == len(weekdays)  # one period holds each day once
    else:  # a week of UTC across an offset change is a week +- the change in local time: one day may fire twice or not
        assert abs(len(times) - len(weekdays)) <= 1
    for moment in times:
        local = moment.astimezone(tz)
        assert local.strftime("%A") in weekdays
        if not near_offset_change(moment, tz):
            assert (local.hour, local.minute) == (hour, minute)
