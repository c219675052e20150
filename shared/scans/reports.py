"""What a tick did: per workspace (`WorkspaceScan`, also its history row), per rule (`RuleScan`), and the
one-line summaries the functions log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.azure.entity_bounds import bounded_text
from shared.detectors.base import Detected, QueryWindow
from shared.detectors.metric_rules import Notice
from shared.outbox.delivery import DeliveryReport


@dataclass
class WorkspaceScan:
    workspace_id: str
    window: QueryWindow
    rows: int = 0
    incidents: list[Detected] = field(default_factory=list)
    claimed: int = 0
    updated: int = 0
    complete: bool = True
    seconds: float = 0.0
    error: str = ""  # no answer (HTTP status and the service's message, or no time left): nothing was read
    absent_tables: tuple[str, ...] = ()  # tables the service said do not exist in this workspace yet
    skipped: Mapping[str, int] = field(default_factory=dict)  # rows the detector could not use, by why
    shortened: int = 0  # incidents whose details were cut to fit Table Storage (the email says so)
    not_stored: list[str] = field(default_factory=list)  # refused by the table service: alerted in minimal form

    @property
    def outcome(self) -> str:
        return "failed" if self.error else "complete" if self.complete else "partial"

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        return (
            f"workspace {self.workspace_id}: {self.outcome}, {self.rows} rows, {len(self.incidents)} incident(s), "
            f"{self.claimed} new" + (f" ({self.error})" if self.error else "")
        )

    def history(self) -> dict[str, Any]:
        """The facts of the scan's history row beyond its window."""
        return {
            "Rows": self.rows,
            "Incidents": len(self.incidents),
            "Claimed": self.claimed,
            "Updated": self.updated,
            "Complete": self.complete,
            "Seconds": round(self.seconds, 3),
            "Outcome": self.outcome,
            "Error": self.error,
            "AbsentTables": ", ".join(self.absent_tables),
            "SkippedRows": self.skipped_rows,
            "Shortened": self.shortened,
            "NotStored": len(self.not_stored),
            **({"NotStoredKeys": bounded_text("\n".join(self.not_stored), 8000)} if self.not_stored else {}),
        }


@dataclass
class TickReport:
    scans: list[WorkspaceScan]
    delivery: DeliveryReport

    @property
    def failed(self) -> list[WorkspaceScan]:
        """Workspaces not read this tick (403, 404, throttled, 5xx, no time left): read again next tick."""
        return [scan for scan in self.scans if scan.error]

    def summary(self) -> str:
        rows = sum(scan.rows for scan in self.scans)
        incidents = sum(len(scan.incidents) for scan in self.scans)
        claimed = sum(scan.claimed for scan in self.scans)
        partial = [scan.workspace_id for scan in self.scans if scan.outcome == "partial"]
        skipped = sum(scan.skipped_rows for scan in self.scans)
        not_stored = [key for scan in self.scans for key in scan.not_stored]
        text = f"{len(self.scans)} workspace(s), {rows} rows, {incidents} incident(s), {claimed} new; " + (
            self.delivery.summary()
        )
        failed = "; ".join(f"{scan.workspace_id} ({scan.error})" for scan in self.failed)
        return (
            text
            + (f"; partial results from {', '.join(partial)}" if partial else "")
            + (f"; {skipped} row(s) skipped (see the log)" if skipped else "")
            + (f"; not stored in full (alerted in minimal form): {', '.join(not_stored)}" if not_stored else "")
            + (f"; NOT READ, retried next tick: {failed}" if failed else "")
        )


@dataclass
class RuleScan:
    rule: str
    series: int = 0
    notices: list[Notice] = field(default_factory=list)
    claimed: int = 0
    calls: int = 0
    failures: list[str] = field(default_factory=list)  # calls that failed, with the reason


@dataclass
class MetricTickReport:
    rules: list[RuleScan]
    delivery: DeliveryReport

    def summary(self) -> str:
        notices = [notice for rule in self.rules for notice in rule.notices]
        kinds = ", ".join(f"{notice.rule} {notice.kind}" for notice in notices) or "no notices"
        series = sum(rule.series for rule in self.rules)
        calls = sum(rule.calls for rule in self.rules)
        failed = [f"{rule.rule}: {failure}" for rule in self.rules for failure in rule.failures]
        text = f"{len(self.rules)} rule(s), {series} series from {calls} call(s): {kinds}; {self.delivery.summary()}"
        return text + (f"; failed calls (retried next tick): {'; '.join(failed)}" if failed else "")


@dataclass
class FanOutReport:
    """A scan's timer tick with the queue: one `scan-workspaces` message per workspace (scans/fanout.py)."""

    scan: str
    enqueued: int

    def summary(self) -> str:
        return f"{self.enqueued} workspace(s) of {self.scan} put on the scan-workspaces queue"
