"""Scoring: which ground-truth incident each email (or each entry of a digest) is about, and the table.

How an email is matched to its incident, from what on-call actually received (`sandbox.emails`):

* a digest ("[AML] N alerts at once: ...") counts once for each incident it lists; its text lists each
  incident by that incident's own email subject ("1. <subject>"), so every entry is matched like an email;
* run failure: pipeline_emails.py (by the body's pipeline run id; a digest entry by its subject's names and when
  it was first seen); every run id of the day maps to its pipeline's incident, so a wrong root cause still finds
  its incident; a follow-up ("Update: root cause is now ...") is a second, different notice;
* compute change: the subject names target, workspace and caller, which the generator keeps unique per
  deletion;
* drift: the subject names the notice, the resource and the value; the generator makes every value of the day
  unique, so (notice, resource, value) names one episode. FIRING is the alert; RESOLVED is a second, different
  notice of the same incident (each must also arrive at most once);
* the naive approach's emails carry the incident's key (or the breaching point) in the subject;
* Azure Monitor's own rules (native.py): a log search alert names the RootRunId it fired for (Fired is the alert;
  Resolved a second notice; Fired again for the same pipeline is a duplicate); a "Failed Runs" metric alert names
  a workspace and the minute it fired: it counts for that workspace's pipelines whose first failure fell in the
  rule's 5-minute window (those failing while it stays fired get no email); its Resolved email is about no
  incident (counted as an email, no entry).

Detection delay: from the incident's moment (`at`) to the first email about it (the raw delay), and from the moment
its decisive row became queryable in Log Analytics (`queryable_at`: its ingestion time) to that email, the part of
the delay an alerting tool controls: p50, p99 and worst.

An entry that matches no incident is counted as "unmatched" (for the app this must be 0: it would mean either
an email about nothing or a matching bug).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.timeutil import parse_datetime

from . import pipeline_emails, silent
from .world import Day

_DIGEST = re.compile(r"^\[AML\] \d+ alerts at once")
_ENTRY = re.compile(r"^\d+\. (\[AML\] .*)\n\s+first seen (.+)$", re.MULTILINE)
_CHANGE = re.compile(r"computes/delete \w+: (?P<target>\S+) in (?P<ws>\S+) by (?P<caller>\S+)$")
_METRIC = re.compile(
    r"\] (?P<notice>FIRING|RESOLVED|STILL FIRING): \S+ on (?P<resource>\S+) \(\S+ = (?P<value>[^)]+)\)$"
)
_NAIVE_KEY = re.compile(r"^\[naive\] (?P<key>(run-failure|compute-change):\S+) - ")
_NAIVE_DRIFT = re.compile(r"^\[naive\] drift (?P<resource>\S+) (?P<value>\S+) at ")
_NATIVE_LOG = re.compile(r"^\[native\] (?P<state>Fired|Resolved): aml-failed-runs \(RootRunId = (?P<root>[^)]+)\)$")
_NATIVE_METRIC = re.compile(r"^\[native\] (?P<state>Fired|Resolved): Failed Runs > 0 on (?P<ws>\S+) at (?P<at>\S+)$")
METRIC_WINDOW = timedelta(minutes=5)  # native.METRIC_WINDOW


@dataclass
class Score:
    approach: str
    should: int = 0
    alerted: int = 0
    lost: int = 0
    duplicated: int = 0
    emails: int = 0
    digests: int = 0
    unmatched: int = 0
    worst_delay: timedelta | None = None
    queryable_delays: list[timedelta] = field(default_factory=list)  # first email - decisive row queryable
    # (delay from queryable, incident key, queryable at, first email at) of each alerted incident that has one
    slowest: list[tuple[timedelta, str, datetime, datetime]] = field(default_factory=list)
    lost_keys: list[str] = field(default_factory=list)
    duplicated_keys: list[str] = field(default_factory=list)
    by_kind: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # kind -> (should, lost, duplicated)


def app_entries(email: dict, day: Day) -> list[tuple[str, str] | None]:
    """(incident key, notice) for each incident an app email is about; None for an entry that matches none."""
    subject, text = email["content"]["subject"], email["content"]["plainText"]
    if _DIGEST.match(subject):
        return [_app_entry(entry, day, first_seen=seen) for entry, seen in _ENTRY.findall(text)]
    return [_app_entry(subject, day, text=text)]


def pipeline_entries(emails: list[dict], day: Day) -> list[pipeline_emails.PipelineEntry]:
    """The pipeline-failure notices among the app's emails (and digest entries)."""
    found = []
    for email in emails:
        subject, text = email["content"]["subject"], email["content"]["plainText"]
        if _DIGEST.match(subject):
            entries = [pipeline_emails.from_digest_entry(entry, seen, day) for entry, seen in _ENTRY.findall(text)]
        else:
            entries = [pipeline_emails.from_email(subject, text, day)]
        found += [entry for entry in entries if entry is not None]
    return found


def _app_entry(subject: str, day: Day, *, text: str = "", first_seen: str = "") -> tuple[str, str] | None:
    if pipeline_emails.SUBJECT.search(subject):
        entry = (
            pipeline_emails.from_digest_entry(subject, first_seen, day)
            if first_seen
            else pipeline_emails.from_email(subject, text, day)
        )
        return (entry.key, entry.notice) if entry else None
    if match := _CHANGE.search(subject):
        key = day.change_subjects.get((match["target"], match["ws"], match["caller"]))
        return (key, "alert") if key else None
    if match := _METRIC.search(subject):
        notice = {"STILL FIRING": "REPEAT"}.get(match["notice"], match["notice"])
        key = day.drift_subjects.get((notice, match["resource"], match["value"]))
        return (key, "alert" if notice == "FIRING" else notice) if key else None
    return silent.entry(subject, day)


def naive_entries(email: dict, day: Day) -> list[tuple[str, str] | None]:
    subject = email["content"]["subject"]
    if match := _NAIVE_KEY.match(subject):
        known = {incident.key for incident in day.incidents}
        return [(match["key"], "alert") if match["key"] in known else None]
    if match := _NAIVE_DRIFT.match(subject):
        key = day.drift_subjects.get(("POINT", match["resource"], match["value"]))
        return [(key, "alert") if key else None]
    return [None]


def native_entries(email: dict, day: Day) -> list[tuple[str, str] | None]:
    subject = email["content"]["subject"]
    if match := _NATIVE_LOG.match(subject):
        key = day.run_to_incident.get(match["root"])
        return [(key, "alert" if match["state"] == "Fired" else "RESOLVED") if key else None]
    if match := _NATIVE_METRIC.match(subject):
        if match["state"] == "Resolved":
            return []
        fired = parse_datetime(match["at"] + ":00+00:00")
        return [
            (incident.key, "alert")
            for incident in day.incidents
            if incident.kind == "run-failure"
            and incident.key.split(":")[1] == match["ws"]
            and fired - METRIC_WINDOW <= incident.at.replace(second=0, microsecond=0) < fired
        ] or [None]
    return [None]


def score(approach: str, emails: list[dict], day: Day, naive: bool, native: bool = False) -> Score:
    result = Score(
        approach,
        should=len(day.incidents),
        emails=len(emails),
        digests=sum(bool(_DIGEST.match(email["content"]["subject"])) for email in emails),
    )
    received: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for email in emails:
        accepted = parse_datetime(email["accepted_at"])
        entries = native_entries if native else naive_entries if naive else app_entries
        for entry in entries(email, day):
            if entry is None:
                result.unmatched += 1
            else:
                received[entry].append(accepted)
    for incident in day.incidents:
        alerts = received.get((incident.key, "alert"), [])
        notices = [times for (key, _), times in received.items() if key == incident.key]
        lost = not alerts
        duplicated = any(len(times) > 1 for times in notices)
        if lost:
            result.lost_keys.append(incident.key)
        else:
            delay = min(alerts) - incident.at
            result.worst_delay = delay if result.worst_delay is None else max(result.worst_delay, delay)
            if incident.queryable_at is not None:
                result.queryable_delays.append(min(alerts) - incident.queryable_at)
                result.slowest.append(
                    (min(alerts) - incident.queryable_at, incident.key, incident.queryable_at, min(alerts))
                )
        if duplicated:
            result.duplicated_keys.append(incident.key)
        should, lost_n, dup_n = result.by_kind.get(incident.kind, (0, 0, 0))
        result.by_kind[incident.kind] = (should + 1, lost_n + lost, dup_n + duplicated)
    result.slowest = sorted(result.slowest, reverse=True)[:3]
    result.lost = len(result.lost_keys)
    result.duplicated = len(result.duplicated_keys)
    result.alerted = result.should - result.lost
    return result


def _minutes(delay: timedelta | None) -> str:
    if delay is None:
        return "-"
    seconds = int(delay.total_seconds())
    return f"{seconds // 60} min {seconds % 60:02d} s"


def percentile(delays: list[timedelta], q: float) -> timedelta | None:
    """The q-quantile (nearest rank) of the delays; None if there are none."""
    if not delays:
        return None
    ordered = sorted(delays)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def table(scores: list[Score]) -> list[str]:
    lines = [
        "| approach | should be alerted | alerted | lost | duplicated | emails sent | worst detection delay "
        "| from queryable: p50 / p99 / worst |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        emails = f"{s.emails} ({s.digests} digests)" if s.digests else f"{s.emails}"
        lines.append(
            f"| {s.approach} | {s.should} | {s.alerted} | {s.lost} | {s.duplicated} | {emails} | "
            f"{_minutes(s.worst_delay)} | "
            + " / ".join(_minutes(percentile(s.queryable_delays, q)) for q in (0.5, 0.99, 1.0))
            + " |"
        )
    return lines


def kinds_table(scores: list[Score]) -> list[str]:
    kinds = sorted({kind for s in scores for kind in s.by_kind})
    lines = [
        "| lost / duplicated by kind | " + " | ".join(f"{k} ({scores[0].by_kind[k][0]})" for k in kinds) + " |",
        "|---|" + "---:|" * len(kinds),
    ]
    for s in scores:
        cells = [f"{s.by_kind.get(k, (0, 0, 0))[1]} / {s.by_kind.get(k, (0, 0, 0))[2]}" for k in kinds]
        lines.append(f"| {s.approach} | " + " | ".join(cells) + " |")
    return lines
