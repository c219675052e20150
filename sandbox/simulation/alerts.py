"""Azure Monitor's side of the day: a Log Alerts V2 rule on failed pipeline runs (the one infra deploys, with
`RunId`/`RootRunId`/`WorkspaceName` dimensions) firing into the `alert_webhook` of either instance.

The rule is evaluated every 5 minutes over the last 15 minutes by TimeGenerated, so it fires only for a failure
whose row was ingested in time - like the real rule, it misses some (the scans catch those). Each alert is
delivered once, and some again, as Azure's retries and overlapping action groups do (the repeat goes to the
other instance, sometimes in the same minute); a 503 (table service down), or no answer at all (the instance
died during the request), is delivered again a minute later, up to five times, as Azure retries them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .crashes import InstanceDied
from .world import Day

PAYLOAD = Path(__file__).resolve().parents[2] / "tests" / "data" / "alerts" / "log-alerts-v2-aml-runs.json"
EVALUATION = timedelta(minutes=5)
WINDOW = timedelta(minutes=15)
AZURE_RETRIES = 5


@dataclass
class Delivery:
    at: datetime
    instance: str
    body: bytes
    retries_left: int = AZURE_RETRIES


def _fire_time(failed_at: datetime, ingested_at: datetime, start: datetime) -> datetime | None:
    """First evaluation that sees the row: ingested by then, and TimeGenerated inside its 15-minute window."""
    evaluation = start + EVALUATION * -(-(ingested_at - start) // EVALUATION)  # the next evaluation at/after
    return evaluation if evaluation - WINDOW <= failed_at else None


def _payload(template: dict[str, Any], alert_id: str, workspace: str, root: str, fired: datetime) -> bytes:
    document = json.loads(json.dumps(template))
    essentials = document["data"]["essentials"]
    essentials.update(alertId=f"{essentials['alertId']}-{alert_id}", firedDateTime=fired.isoformat())
    condition = document["data"]["alertContext"]["condition"]
    condition.update(windowStartTime=(fired - WINDOW).isoformat(), windowEndTime=fired.isoformat())
    condition["allOf"][0]["dimensions"] = [
        {"name": "RunId", "value": root}, {"name": "RootRunId", "value": root},
        {"name": "WorkspaceName", "value": workspace},
    ]
    return json.dumps(document).encode()


@dataclass
class AlertDeliveries:
    """An event source for the runner: `seed` plans the alerts, `tick` delivers them minute by minute."""

    day: Day
    apps: dict[str, Any]
    rng_seed: int
    deliveries: list[Delivery] = field(default_factory=list)
    alerts: int = 0
    answers: Counter = field(default_factory=Counter)
    died: list[tuple[str, datetime]] = field(default_factory=list)  # (instance, when) it died before answering

    def seed(self, sandbox: Any) -> None:
        """Nothing goes into the sandbox: the alerts follow from the day's rows and their ingestion times."""
        rng = random.Random(self.rng_seed * 31 + 3)
        template = json.loads(PAYLOAD.read_text())
        roots = {row["RunId"]: row for row in self.day.rows.get("AmlRunStatusChangedEvent", [])
                 if row["Status"] == "Failed" and not row["ParentRunId"]}
        for index, (root, row) in enumerate(sorted(roots.items())):
            fired = _fire_time(row["TimeGenerated"], row["_IngestedAt"], self.day.start)
            if fired is None:
                continue
            self.alerts += 1
            body = _payload(template, f"sim-{index}", row["WorkspaceName"], root, fired)
            first = rng.choice(["A", "B"])
            self.deliveries.append(Delivery(fired, first, body))
            for _ in range(rng.choice([0, 0, 1, 2])):  # repeats: the same minute or the next, either instance
                self.deliveries.append(Delivery(fired + timedelta(minutes=rng.choice([0, 1])),
                                                rng.choice(["A", "B"]), body))

    def tick(self, now: datetime) -> None:
        due = [d for d in self.deliveries if d.at == now]
        self.deliveries = [d for d in self.deliveries if d.at != now]
        for delivery in due:
            try:
                answer = self.apps[delivery.instance].receive_alert(
                    delivery.body, {"Content-Type": "application/json"}, now)
            except InstanceDied:
                self.died.append((delivery.instance, now))
                status = None
            else:
                self.answers[answer.status] += 1
                status = answer.status
            if status in (None, 408, 429, 503, 504) and delivery.retries_left:
                self.deliveries.append(Delivery(now + timedelta(minutes=1), delivery.instance, delivery.body,
                                                delivery.retries_left - 1))

    @property
    def delivered(self) -> int:
        return sum(self.answers.values()) + len(self.died)
