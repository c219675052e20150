"""The seams, proven by plugging in: a toy detector (a registry line) and a toy channel (a channel table line),
defined here and nowhere else, against the real app, Azurite and the sandbox. The toy detector is a periodic check
(the engine without a watermark): runs still Running two hours after they started."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest

from sandbox.scenarios import status_row
from shared import channels, detectors
from shared.core.kql import kql_datetime
from shared.core.log_rows import moment, text
from shared.detectors.base import Detected, DetectorSpec, Findings, QueryWindow, Shape, ViewOptions
from shared.outbox.channel import SUCCEEDED
from shared.outbox.records import OutboxRecord

KIND = "toy-stuck-run"
TEAM = "ml-platform@contoso.com"
WS_A = "aaaaaaaa-0000-0000-0000-000000000001"
WS_B = "bbbbbbbb-0000-0000-0000-000000000002"


@dataclass(frozen=True)
class StuckRuns:
    """PERIODIC: every tick, the last `lookback` of run statuses; a run whose latest status is Running and
    started `stuck_after` ago is stuck. A watermark could not find it: no row arrives for a stuck run."""

    scan: ClassVar[str] = "toy-stuck-runs"
    lookback: timedelta = timedelta(hours=6)
    stuck_after: timedelta = timedelta(hours=2)

    def query(self, window: QueryWindow) -> str:
        return f"""AmlRunStatusChangedEvent
| where TimeGenerated > {kql_datetime(window.start)} and TimeGenerated <= {kql_datetime(window.end)}
| summarize arg_max(TimeGenerated, Status) by RunId, WorkspaceName"""

    def detect(self, rows: list[dict[str, Any]], now: datetime) -> Findings:
        stuck = []
        for row in rows:
            since = moment(row.get("TimeGenerated"))
            if text(row, "Status") == "Running" and since is not None and now - since >= self.stuck_after:
                workspace, run = text(row, "WorkspaceName"), text(row, "RunId")
                payload = {"run": run, "workspace": workspace, "since": since.isoformat()}
                stuck.append(Detected(f"{KIND}:{workspace}:{run}", KIND, payload, {"kind": KIND}, now))
        return Findings(stuck)


def _view(payload: Mapping[str, Any], options: ViewOptions) -> dict[str, Any]:
    return {"subject": f"Run {payload['run']} is stuck in {payload['workspace']}", "since": payload["since"]}


TOY_DETECTOR = DetectorSpec(
    kind=KIND,
    title="stuck runs",
    shape=Shape.PERIODIC,
    view=_view,
    templates="",  # not emailed: its route names the toy channel
    scan=StuckRuns.scan,
    build=lambda rules, settings: StuckRuns(),
)


class ToyChannel:
    """A channel that cannot be asked about an attempt (like a Teams webhook): renders each record from its
    detector's view (the registry) and keeps what it sent."""

    name = "toy"
    can_confirm = False
    sent: ClassVar[list[tuple[tuple[str, ...], str, dict[str, Any]]]] = []

    def render(self, records: Sequence[OutboxRecord]) -> dict[str, Any]:
        views = [detectors.by_kind(r.kind).view(r.payload, ViewOptions()) for r in records]
        return {"title": views[0]["subject"] if len(views) == 1 else f"{len(views)} incidents", "items": views}

    def send(
        self,
        message: dict[str, Any],
        recipients: tuple[str, ...],
        operation_id: str,
        first_sent: datetime,
        *,
        wait: bool,
    ) -> str:
        self.sent.append((recipients, operation_id, message))
        return SUCCEEDED

    def status(self, operation_id: str) -> str | None:
        raise AssertionError("a channel that cannot confirm is never asked")


@pytest.fixture
def plugged_in(monkeypatch, app_settings, rules):
    """The toy detector in the registry, the toy channel in the channel table, a route to it."""
    monkeypatch.setattr(detectors, "DETECTORS", [*detectors.DETECTORS, TOY_DETECTOR])
    monkeypatch.setitem(channels.CHANNELS, "toy", lambda deps: ToyChannel())
    monkeypatch.setattr(ToyChannel, "sent", [])
    rules(f"routes:\n  - match: {{kind: {KIND}}}\n    recipients: [{TEAM}]\n    channel: toy\n")
    return ToyChannel.sent


def _runs(sandbox, *runs: tuple[str, str, timedelta]) -> list[dict[str, Any]]:
    return [status_row("ws-prod", run, "", run, status, sandbox.now - ago) for run, status, ago in runs]


def test_a_toy_detector_and_a_toy_channel_plug_in_through_the_registry_and_the_channel_interface(
    plugged_in, sandbox, make_app
):
    rows = _runs(
        sandbox,
        ("run-stuck", "Running", timedelta(hours=3)),
        ("run-young", "Running", timedelta(minutes=20)),  # running, not for long
        ("run-done", "Running", timedelta(hours=5)),
    ) + _runs(sandbox, ("run-done", "Completed", timedelta(hours=1)))
    sandbox.add_rows("AmlRunStatusChangedEvent", rows)
    app = make_app()

    report = app.scan(TOY_DETECTOR.scan, sandbox.now)

    assert [(scan.outcome, scan.claimed) for scan in report.scans] == [("complete", 1)]
    assert report.delivery.sent == 1
    [(recipients, _, message)] = plugged_in
    assert recipients == (TEAM,)
    assert message["title"] == "Run run-stuck is stuck in ws-prod"
    assert sandbox.emails == []  # the route names the toy channel: nothing went by email
    [record] = app.incidents.records()
    assert (record.key, record.channel, record.status.value) == (f"{KIND}:ws-prod:run-stuck", "toy", "sent")

    sandbox.advance(timedelta(minutes=5))  # the next check finds it again: the intake claims it once
    again = app.scan(TOY_DETECTOR.scan, sandbox.now)
    assert (again.scans[0].incidents[0].key, again.scans[0].claimed, again.delivery.sent) == (record.key, 0, 0)
    assert len(plugged_in) == 1


def test_the_cli_offers_the_toy_scan_and_its_dry_run_claims_nothing(plugged_in, sandbox, capsys):
    from shared import cli

    sandbox.add_rows("AmlRunStatusChangedEvent", _runs(sandbox, ("run-stuck", "Running", timedelta(hours=3))))
    assert cli.main(["scan", TOY_DETECTOR.scan, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"## {KIND}:ws-prod:run-stuck\nTo: {TEAM} (toy)\nSubject: Run run-stuck is stuck in ws-prod" in printed
    assert "1 incident(s)" in printed and plugged_in == []


def test_a_periodic_check_reads_every_workspace_each_tick_and_one_that_fails_does_not_stop_the_others(
    plugged_in, monkeypatch, sandbox, make_app, state
):
    for workspace_id in (WS_A, WS_B):
        sandbox.add_workspace(workspace_id)
        sandbox.add_rows(
            "AmlRunStatusChangedEvent", _runs(sandbox, ("run-stuck", "Running", timedelta(hours=3))), workspace_id
        )
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", f"{WS_A},{WS_B}")
    sandbox.fail_workspace(WS_A, 403, count=1)  # not retried by the SDK: this tick does not read A
    app = make_app()

    first = app.scan(TOY_DETECTOR.scan, sandbox.now)
    assert [(scan.workspace_id, scan.outcome) for scan in first.scans] == [(WS_A, "failed"), (WS_B, "complete")]
    assert f"NOT READ, retried next tick: {WS_A} (403" in first.summary()
    assert len(plugged_in) == 1  # ws-prod's run, from B
    # No watermark: the next tick reads A's lookback window again, and the same incident is not sent twice.
    sandbox.advance(timedelta(minutes=5))
    second = app.scan(TOY_DETECTOR.scan, sandbox.now)
    assert [scan.outcome for scan in second.scans] == ["complete", "complete"]
    assert [scan.claimed for scan in second.scans] == [0, 0] and len(plugged_in) == 1
    assert state.scans.get_watermark(TOY_DETECTOR.scan, WS_A) is None
    windows = [(scan.window.end - scan.window.start) for scan in second.scans]
    assert windows == [StuckRuns.lookback] * 2
