"""The commands that run the app (full settings): a scan or its dry run, one incident in full, the outbox."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared import detectors

if TYPE_CHECKING:
    from shared.app import AlertingApp
    from shared.detectors.base import Detected


def outbox(app: AlertingApp) -> int:
    for record in sorted(app.incidents.records(), key=lambda r: r.created_at):
        error = f"  last error: {record.last_error}" if record.last_error else ""
        print(
            f"{record.status.value:8} attempts={record.attempts} due={record.due_at:%Y-%m-%d %H:%M:%S} "
            f"{record.key}{error}"
        )
    return 0


def scan(app: AlertingApp, name: str, now: datetime, dry_run: bool, since: timedelta | None) -> int:
    from shared.detectors.base import Shape
    from shared.scans.log_scan import LogScan
    from shared.scans.sourced import SourcedCheck

    shape = detectors.by_scan(name).shape
    if since and shape is not Shape.WINDOW:
        print(f"--since applies to the log scans, not to {name}", file=sys.stderr)
        return 2
    if not dry_run:
        print(app.scan(name, now, since).summary())
        return 0
    if shape is Shape.METRICS:
        for rule_scan, detected in app.metric_scan.preview(now):
            failed = f"; FAILED calls: {'; '.join(rule_scan.failures)}" if rule_scan.failures else ""
            print(f"# metric rule {rule_scan.rule}: {rule_scan.series} series from {rule_scan.calls} call(s){failed}")
            print_incidents(app, detected)
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
        print_incidents(app, found.incidents)
    return 0


def print_incidents(app: AlertingApp, incidents: Sequence[Detected]) -> None:
    from shared.channels.email.render import render_incident
    from shared.detectors.base import ViewOptions
    from shared.rules import DEFAULT_CHANNEL

    options = ViewOptions(app.settings.studio_tenant_id)
    for incident in incidents:
        destination = app.route(incident.labels)
        recipients = ", ".join(destination.recipients)
        if destination.channel != DEFAULT_CHANNEL:  # another channel's message: what it is about
            subject = detectors.by_kind(incident.kind).view(incident.payload, options)["subject"]
            print(f"\n## {incident.key}\nTo: {recipients} ({destination.channel})\nSubject: {subject}\n")
            continue
        email = render_incident(incident.kind, incident.payload, options)
        print(f"\n## {incident.key}\nTo: {recipients}\nSubject: {email.subject}\n")
        print(email.text)


def show(app: AlertingApp, key: str) -> int:
    from shared.channels.email.render import render_incident
    from shared.detectors.base import ViewOptions

    record = app.incidents.get(key)
    if record is None:
        print(f"no incident {key!r} (python -m shared outbox lists them)", file=sys.stderr)
        return 1
    email = render_incident(record.kind, record.payload, ViewOptions(app.settings.studio_tenant_id))
    print(f"{record.status.value} attempts={record.attempts} first seen {record.created_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"To: {', '.join(record.recipients)}\nSubject: {email.subject}\n\n{email.text}")
    return 0
