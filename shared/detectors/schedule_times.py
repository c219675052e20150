"""When an Azure ML schedule should have fired: its trigger -> the expected fire times in a window, in UTC.

A model of the service, not its code (docs/azure-ml-schedules.md has the facts and their sources):
- time zones are Windows ids ("W. Europe Standard Time"), mapped to IANA with CLDR's table; absent means UTC;
- cron is NCrontab's five fields, of which Azure ML ignores day-of-month and month (forced to `*` here);
  cronsim evaluates it in the zone (Debian cron's DST rule: a time in the skipped hour fires at the end of the
  gap, a time in the repeated hour fires once);
- a recurrence with a pattern is an RFC 5545 rule in wall-clock time (dateutil.rrule); one without a pattern
  steps in absolute time from its start for Minute/Hour, and keeps the start's wall-clock time for Day/Week/Month.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.detectors.schedule_model import CronTrigger, RecurrenceTrigger

# Two values of azure-ai-ml's TimeZone enum that CLDR no longer lists (obsolete Windows ids): their closest zones.
_OBSOLETE_WINDOWS_ZONES = {"Mid-Atlantic Standard Time": "Etc/GMT+2", "Kamchatka Standard Time": "Asia/Kamchatka"}
_DAY_NAMES = {
    "SUNDAY": "SUN",
    "MONDAY": "MON",
    "TUESDAY": "TUE",
    "WEDNESDAY": "WED",
    "THURSDAY": "THU",
    "FRIDAY": "FRI",
    "SATURDAY": "SAT",
}
_NUMERIC_FIELD = re.compile(r"^[0-9*,/-]+$")
_DAY_FIELD = re.compile(r"^[0-9A-Z*,/-]+$")
# Far enough either side of a window for a wall-clock rule to reach it across a DST change.
_WALL_CLOCK_MARGIN = timedelta(days=1)


class Unevaluable(ValueError):
    """The trigger cannot be turned into fire times (unknown time zone, cron outside Azure ML's dialect, ...)."""


@cache
def _windows_zones() -> dict[str, str]:
    from tzlocal.windows_tz import win_tz  # CLDR windowsZones.xml, regenerated with each tzlocal release

    return {name.casefold(): zone for name, zone in {**win_tz, **_OBSOLETE_WINDOWS_ZONES}.items()}


def schedule_zone(windows_id: str | None) -> ZoneInfo:
    """The zone of a trigger's `timeZone`. An IANA name is accepted too (the service documents Windows ids)."""
    if not windows_id or not windows_id.strip():
        return ZoneInfo("UTC")
    name = _windows_zones().get(windows_id.strip().casefold(), windows_id.strip())
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unevaluable(f"unknown time zone {windows_id!r} (not a Windows time zone id)") from None


def schedule_moment(value: str | None, zone: ZoneInfo) -> datetime | None:
    """A trigger's `startTime`/`endTime` in UTC: ISO 8601, wall time in the schedule's zone unless it carries an
    offset (some clients send one)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Unevaluable(f"{value!r} is not an ISO 8601 time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def aml_cron(expression: str) -> str:
    """The expression as Azure ML evaluates it, in cronsim's syntax: day-of-month and month become `*`."""
    fields = expression.upper().split()
    if len(fields) != 5:
        raise Unevaluable(f"cron {expression!r}: Azure ML takes five fields (MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK)")
    minute, hour, _, _, weekday = fields
    for name, abbreviation in _DAY_NAMES.items():
        weekday = weekday.replace(name, abbreviation)
    if not (_NUMERIC_FIELD.match(minute) and _NUMERIC_FIELD.match(hour) and _DAY_FIELD.match(weekday)):
        raise Unevaluable(f"cron {expression!r}: only numbers, names of days, `*`, `,`, `-` and `/` are NCrontab")
    for term in weekday.split(","):
        days = term.split("/")[0]
        if any(int(day) > 6 for day in re.findall(r"\d+", days)):
            raise Unevaluable(f"cron {expression!r}: days of the week are 0-6 (0 = Sunday)")
        if any(word not in _DAY_NAMES.values() for word in re.findall(r"[A-Z]+", days)):
            raise Unevaluable(f"cron {expression!r}: {term!r} is not a day of the week")
    normalised = f"{minute} {hour} * * {weekday}"
    from cronsim import CronSim, CronSimError

    try:
        CronSim(normalised, datetime(2026, 1, 1))
    except CronSimError as err:
        raise Unevaluable(f"cron {expression!r}: {err}") from None
    return normalised


def fire_times(
    trigger: CronTrigger | RecurrenceTrigger, start: datetime, end: datetime, *, anchor: datetime
) -> list[datetime]:
    """Every expected fire time F with start <= F < end, in UTC, sorted. `anchor` (aware): where the trigger's
    phase starts, its `startTime` or, without one, when the schedule was created."""
    zone = schedule_zone(trigger.time_zone)
    if isinstance(trigger, CronTrigger):
        times: Iterator[datetime] = _cron(aml_cron(trigger.expression), zone, start, end)
    elif trigger.pattern is None and trigger.frequency in ("Minute", "Hour"):
        unit = timedelta(minutes=1) if trigger.frequency == "Minute" else timedelta(hours=1)
        times = _steps(anchor, unit * trigger.interval, start, end)
    else:
        times = _wall_clock_rule(trigger, zone, anchor, start, end)
    return sorted({moment for moment in times if start <= moment < end})


def _cron(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    from cronsim import CronSim

    for local in CronSim(expression, (start - timedelta(seconds=1)).astimezone(zone)):
        moment = local.astimezone(UTC)
        if moment >= end:
            return
        yield moment


def _steps(anchor: datetime, step: timedelta, start: datetime, end: datetime) -> Iterator[datetime]:
    moment = anchor + step * max(0, -((anchor - start) // step))  # the first step at or after start
    while moment < end:
        yield moment
        moment += step


def _wall_clock_rule(
    trigger: RecurrenceTrigger, zone: ZoneInfo, anchor: datetime, start: datetime, end: datetime
) -> Iterator[datetime]:
    from dateutil import rrule

    frequencies = {
        "Minute": (rrule.MINUTELY, timedelta(minutes=1)),
        "Hour": (rrule.HOURLY, timedelta(hours=1)),
        "Day": (rrule.DAILY, timedelta(days=1)),
        "Week": (rrule.WEEKLY, timedelta(weeks=1)),
        "Month": (rrule.MONTHLY, None),
    }
    frequency, period = frequencies[trigger.frequency]
    first = _wall(anchor, zone)
    low, high = _wall(start, zone) - _WALL_CLOCK_MARGIN, _wall(end, zone) + _WALL_CLOCK_MARGIN
    if period is not None and first < low:
        # Skip whole periods (wall-clock arithmetic, as rrule's own): the phase is kept and a schedule started
        # years ago costs no more than one started last week.
        first += period * trigger.interval * ((low - first) // (period * trigger.interval))
    pattern = trigger.pattern
    weekdays = [getattr(rrule, day[:2].upper()) for day in pattern.week_days] if pattern else []
    rule = rrule.rrule(
        frequency,
        interval=trigger.interval,
        dtstart=first,
        until=high,
        byhour=(pattern.hours or None) if pattern else None,
        byminute=(pattern.minutes or None) if pattern else None,
        bysecond=[0] if pattern else None,
        byweekday=weekdays or None,
        bymonthday=(pattern.month_days or None) if pattern else None,
    )
    for wall in rule.between(low, high, inc=True):
        # A wall time in the skipped hour is read with the offset before the change, the repeated hour once.
        yield wall.replace(tzinfo=zone).astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def near_offset_change(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the zone's UTC offset changes within an hour of `moment` (a DST change): what Azure ML does
    then is not documented, so a fire time there gets an hour of slack either side."""
    hour = timedelta(hours=1)
    return (moment - hour).astimezone(zone).utcoffset() != (moment + hour).astimezone(zone).utcoffset()
