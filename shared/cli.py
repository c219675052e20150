"""`python -m shared`: run a scan once, preview what it would send, and look at the outbox.

    python -m shared scan run-failures --dry-run --since 6h   # what would be sent for the last 6 hours
    python -m shared scan run-failures                        # one real tick: claim, send, move the watermark
    python -m shared outbox                                   # incidents and their delivery state
    python -m shared deliver                                  # send what is due now

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

_DURATION = re.compile(r"^(\d+)([mhd])$")


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 6h or 2d, got {text!r}")
    amount, unit = int(match[1]), match[2]
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
    return timedelta(**{unit_name: amount})


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
    scan.add_argument("name", choices=sorted(_SCANS))
    scan.add_argument("--dry-run", action="store_true", help="print incidents and emails; claim and send nothing")
    scan.add_argument("--since", type=_duration, help="replay this far back (30m, 6h, 2d); keeps the watermark")
    commands.add_parser("outbox", help="list incidents and their delivery state")
    commands.add_parser("deliver", help="send the incidents that are due")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.settings:
        _load_settings_file(args.settings)

    from shared.alerting_app import AlertingApp
    from shared.settings import Settings, SettingsError

    try:
        app = AlertingApp(Settings.from_environ())
    except SettingsError as err:
        print(err, file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    if args.command == "scan":
        return _scan(app, args.name, now, args.dry_run, args.since)
    if args.command == "deliver":
        report = app.delivery.deliver_due(now)
        print(f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}, taken by others {report.lost_race}")
        return 0
    for record in sorted(app.state.incidents(), key=lambda r: r.created_at):
        error = f"  last error: {record.last_error}" if record.last_error else ""
        print(f"{record.status.value:8} attempts={record.attempts} due={record.due_at:%Y-%m-%d %H:%M:%S} "
              f"{record.key}{error}")
    return 0


# scan name -> (the AlertingApp use case, the AlertingApp scan it runs)
_SCANS = {
    "run-failures": ("scan_run_failures", "run_failure_scan"),
    "compute-changes": ("scan_compute_changes", "compute_change_scan"),
}


def _scan(app, name: str, now: datetime, dry_run: bool, since: timedelta | None) -> int:
    from shared.email_render import render_incident

    use_case, scan_name = _SCANS[name]
    if not dry_run:
        print(getattr(app, use_case)(now, since).summary())
        return 0
    scan = getattr(app, scan_name)
    for workspace_id in app.settings.workspace_ids:
        window = scan.window(workspace_id, now, since)
        found = scan.find(workspace_id, window)
        print(f"# workspace {workspace_id}: ingested {window.start:%Y-%m-%d %H:%M} .. {window.end:%H:%M} UTC, "
              f"{found.rows} rows, {len(found.incidents)} incident(s){'' if found.complete else ' (PARTIAL result)'}")
        for incident in found.incidents:
            email = render_incident(incident.kind, incident.payload, app.settings.studio_tenant_id)
            recipients = ", ".join(app.recipients_for(incident.labels))
            print(f"\n## {incident.key}\nTo: {recipients}\nSubject: {email.subject}\n")
            print(email.text)
    return 0
