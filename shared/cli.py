"""`python -m shared`: run a scan once, preview what it would send, look at the outbox, manage silences.

    python -m shared scan run-failures --dry-run --since 6h   # what would be sent for the last 6 hours
    python -m shared scan run-failures                        # one real tick: claim, send, move the watermark
    python -m shared scan compute-changes | metrics           # the other scans (the detector registry's)
    python -m shared outbox                                   # incidents and their delivery state
    python -m shared deliver                                  # send what is due now
    python -m shared silence add --match workspace=ws-scratch --for 4h --reason "load test"
    python -m shared silence list | expire ID
    python -m shared rules check                              # validate the rules file

Settings come from the environment, or from a Functions settings file with --settings local.settings.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shared import detectors

if TYPE_CHECKING:
    from shared.app import AlertingApp

_DURATION = re.compile(r"^(\d+)([mhd])$")


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 6h or 2d, got {text!r}")
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit_name: int(match[1])})


def _matcher(text: str) -> tuple[str, str]:
    from shared.rules import LABELS

    label, _, pattern = text.partition("=")
    if not label or not pattern:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATTERN such as workspace=ws-scratch, got {text!r}")
    if label not in LABELS:
        raise argparse.ArgumentTypeError(f"unknown label {label!r}: use one of {', '.join(LABELS)}")
    return label, pattern


def _load_settings_file(path: Path) -> None:
    """Values from a local.settings.json; variables already exported win, as with `func start`."""
    try:
        values = json.loads(path.read_text())["Values"]
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"cannot read settings from {path}: {err}") from err
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared", description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=Path, help="a local.settings.json whose Values to use")
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help="run one scan now")
    scan.add_argument("name", choices=detectors.scan_names())
    scan.add_argument("--dry-run", action="store_true", help="print incidents and emails; claim and send nothing")
    scan.add_argument("--since", type=_duration, help="replay this far back (30m, 6h, 2d); keeps the watermark")
    commands.add_parser("outbox", help="list incidents and their delivery state")
    commands.add_parser("deliver", help="send the incidents that are due")
    silence = commands.add_parser("silence", help="mute known problems without a deploy")
    silence_commands = silence.add_subparsers(dest="silence_command", required=True)
    add = silence_commands.add_parser("add", help="add a silence")
    add.add_argument(
        "--match",
        type=_matcher,
        action="append",
        required=True,
        metavar="LABEL=PATTERN",
        help="kind, workspace, experiment, compute, rule or operation; wildcards allowed; repeatable",
    )
    add.add_argument("--for", dest="duration", type=_duration, required=True, help="how long (30m, 4h, 2d)")
    add.add_argument("--reason", required=True)
    silence_commands.add_parser("list", help="silences that have not ended")
    expire = silence_commands.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    rules = commands.add_parser("rules", help="the rules file")
    rules.add_argument("rules_command", choices=["check"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.settings:
        _load_settings_file(args.settings)

    from shared.app import AlertingApp
    from shared.rules import RulesError
    from shared.settings import Settings, SettingsError

    try:
        app = AlertingApp(Settings.from_environ())
        app.rules  # noqa: B018 - validate the rules file before doing anything
    except (SettingsError, RulesError) as err:
        print(err, file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    if args.command == "scan":
        return _scan(app, args.name, now, args.dry_run, args.since)
    if args.command == "deliver":
        report = app.delivery.deliver_due(now)
        print(report.summary())
        return 0
    if args.command == "silence":
        return _silence(app, args, now)
    if args.command == "rules":
        rules = app.rules
        print(
            f"{app.settings.rules_file}: valid ({len(rules.metric_rules)} metric rule(s), {len(rules.routes)} "
            f"route(s), {len(rules.silences)} silence(s), storm limit {rules.storm_limit})"
        )
        return 0
    for record in sorted(app.incidents.records(), key=lambda r: r.created_at):
        error = f"  last error: {record.last_error}" if record.last_error else ""
        print(
            f"{record.status.value:8} attempts={record.attempts} due={record.due_at:%Y-%m-%d %H:%M:%S} "
            f"{record.key}{error}"
        )
    return 0


def _scan(app: AlertingApp, name: str, now: datetime, dry_run: bool, since: timedelta | None) -> int:
    from shared.channels.email.render import render_incident
    from shared.detectors.base import Shape, ViewOptions
    from shared.rules import DEFAULT_CHANNEL
    from shared.scans.log_scan import LogScan
    from shared.scans.sourced import SourcedCheck

    shape = detectors.by_scan(name).shape
    if (dry_run and shape is Shape.METRICS) or (since and shape is not Shape.WINDOW):
        print(f"--dry-run and --since apply to the log scans, not to {name}", file=sys.stderr)
        return 2
    if not dry_run:
        print(app.scan(name, now, since).summary())
        return 0
    engine = app.engine(name)
    units = engine.source.units if isinstance(engine, SourcedCheck) else app.settings.workspace_ids
    for workspace_id in units:
        if isinstance(engine, LogScan):
            window = engine.window(workspace_id, now, since)
            found = engine.find(workspace_id, window)
        else:
            found = engine.find(workspace_id, now)
            window = found.window
        note = {"complete": "", "partial": " (PARTIAL result)"}.get(found.outcome, f" (NOT READ: {found.error})")
        skipped = f", {found.skipped_rows} row(s) skipped ({dict(found.skipped)})" if found.skipped_rows else ""
        print(
            f"# workspace {workspace_id}: ingested {window.start:%Y-%m-%d %H:%M} .. {window.end:%H:%M} UTC, "
            f"{found.rows} rows, {len(found.incidents)} incident(s){skipped}{note}"
        )
        options = ViewOptions(app.settings.studio_tenant_id)
        for incident in found.incidents:
            destination = app.route(incident.labels)
            recipients = ", ".join(destination.recipients)
            if destination.channel != DEFAULT_CHANNEL:  # another channel's message: what it is about
                subject = detectors.by_kind(incident.kind).view(incident.payload, options)["subject"]
                print(f"\n## {incident.key}\nTo: {recipients} ({destination.channel})\nSubject: {subject}\n")
                continue
            email = render_incident(incident.kind, incident.payload, options)
            print(f"\n## {incident.key}\nTo: {recipients}\nSubject: {email.subject}\n")
            print(email.text)
    return 0


def _silence(app: AlertingApp, args: argparse.Namespace, now: datetime) -> int:
    from pydantic import ValidationError

    from shared.rules import Match, Silence

    if args.silence_command == "add":
        try:
            silence = Silence(match=Match(**dict(args.match)), starts=now, ends=now + args.duration, reason=args.reason)
        except ValidationError as err:
            print(f"invalid silence: {err.errors()[0]['msg']}", file=sys.stderr)
            return 2
        stored = app.silences.add(silence)
        print(f"added {stored.describe()}")
        return 0
    if args.silence_command == "expire":
        found = app.silences.expire(args.id, now)
        print(f"silence {args.id} {'ended' if found else 'not found'}")
        return 0 if found else 1
    for silence in app.active_silences(now):
        print(silence.describe() + ("" if silence.id else "  (rules file)"))
    return 0
