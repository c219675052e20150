"""What users would pick instead: Azure Monitor's own alert rules, as Azure Monitor documents their behaviour, each
emailing through an action group. Run against the same sandbox (Log Analytics, Metrics, ACS) with the app's thin
SDK clients, from their own sender addresses.

* **Log search alert rule** (scheduledQueryRules): every 5 minutes, the query over the last 5 minutes by
  TimeGenerated (the rule's window; rows ingested after their window was evaluated are never seen), failed runs
  counted and split by the RootRunId dimension, threshold count > 0. Stateful ("automatically resolve alerts"):
  one Fired email per RootRunId, no more while it is fired; resolved after 3 consecutive evaluations without it
  (Azure Monitor resolves a log search alert with a 5-15 minute frequency after three periods in which the
  condition is not met), with a Resolved email; a later failed row of the same pipeline fires it again.
* **Metric alert on "Failed Runs"** (Microsoft.MachineLearningServices/workspaces): evaluated every minute, Total
  over the last 5 minutes > 0, per workspace. Metric alerts are stateful: Fired once, Resolved after 3 consecutive
  evaluations below the threshold. The metric is seeded from the day's runs: one point per minute with the count of
  runs (pipelines and steps) that ended Failed in it.

What the emails say: the action group's email names the rule, the fired dimension (RootRunId) or the workspace
and the metric value, and links to the query results or the chart: never the failing step or its error.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox import Sandbox
from sandbox.metrics import DEFAULT_REGION, endpoint_template
from sandbox.scenarios import workspace_resource_id
from shared.azure.credentials import EmulatorCredential
from shared.azure.log_analytics import LogAnalytics, QueryFailed
from shared.azure.metrics import MetricQuery, MetricsApi
from shared.channels.email.acs import AcsEmail, Email
from shared.core.kql import kql_datetime
from shared.outbox.channel import SendFailed

from .world import WORKSPACES, Day

log = logging.getLogger(__name__)

LOG_EVERY = timedelta(minutes=5)
LOG_WINDOW = timedelta(minutes=5)
METRIC_EVERY = timedelta(minutes=1)
METRIC_WINDOW = timedelta(minutes=5)
RESOLVE_AFTER = 3  # consecutive evaluations without the condition
AML_NAMESPACE = "Microsoft.MachineLearningServices/workspaces"
FAILED_RUNS = "Failed Runs"
LOG_RULE = """AmlRunStatusChangedEvent
| where TimeGenerated > {start} and TimeGenerated <= {end}
| where Status == "Failed"
| summarize FailedRuns = count() by RootRunId = iff(isempty(RootRunId), RunId, RootRunId)"""
LOG_SENDER, METRIC_SENDER = "native-log@alerts.contoso.com", "native-metric@alerts.contoso.com"


@dataclass
class _Stateful:
    """Azure Monitor's state of one alert rule: fired dimensions and their evaluations without the condition."""

    quiet: dict[str, int] = field(default_factory=dict)  # fired key -> consecutive evaluations without it

    def evaluate(self, breaching: set[str]) -> tuple[list[str], list[str]]:
        """(fired now, resolved now) after one evaluation."""
        fired = [key for key in sorted(breaching) if key not in self.quiet]
        resolved = []
        for key in list(self.quiet):
            self.quiet[key] = 0 if key in breaching else self.quiet[key] + 1
            if self.quiet[key] >= RESOLVE_AFTER:
                del self.quiet[key]
                resolved.append(key)
        for key in fired:
            self.quiet[key] = 0
        return fired, resolved


def failed_runs_points(day: Day) -> dict[str, list[tuple[datetime, float]]]:
    """The "Failed Runs" metric of each Azure ML workspace: per minute, the runs that ended Failed in it."""
    counts: dict[str, Counter[datetime]] = {ws: Counter() for ws in WORKSPACES}
    for pipeline in day.pipeline_runs:
        for life in (pipeline, *pipeline.steps):
            last = life.transitions[-1]
            if last.status == "Failed":
                counts[pipeline.workspace][last.at.replace(second=0, microsecond=0)] += 1
    return {ws: sorted((at, float(n)) for at, n in per_minute.items()) for ws, per_minute in counts.items()}


class NativeAlerts:
    """Both rules; `tick(now)` every simulated minute."""

    def __init__(self, day: Day, endpoint: str, workspace_id: str, recipients: tuple[str, ...]) -> None:
        credential = EmulatorCredential()
        self._day = day
        self._logs = LogAnalytics(endpoint, credential)
        self._metrics = MetricsApi(endpoint_template(endpoint), credential)
        self._log_email = AcsEmail(endpoint, credential, LOG_SENDER)
        self._metric_email = AcsEmail(endpoint, credential, METRIC_SENDER)
        self._workspace_id = workspace_id
        self._recipients = recipients
        self._log_state, self._metric_state = _Stateful(), _Stateful()
        self.failed_sends = self.failed_evaluations = 0

    def seed(self, sandbox: Sandbox) -> None:
        for ws, points in failed_runs_points(self._day).items():
            if points:
                sandbox.add_metric_series(workspace_resource_id(ws).lower(), AML_NAMESPACE, FAILED_RUNS, points, {})

    def tick(self, now: datetime) -> None:
        minute = int((now - self._day.start).total_seconds() // 60)
        if minute % int(LOG_EVERY.total_seconds() // 60) == 0:
            self._evaluate_log_rule(now)
        self._evaluate_metric_rule(now)

    def _evaluate_log_rule(self, now: datetime) -> None:
        start, end = now - LOG_WINDOW, now
        query = LOG_RULE.format(start=kql_datetime(start), end=kql_datetime(end))
        try:
            rows = self._logs.query(self._workspace_id, query, start, end).rows
        except QueryFailed as err:  # before the table's first row it does not exist (400): nothing fires
            self.failed_evaluations += 1
            log.debug("native log rule: query failed: %s", err)
            return
        fired, resolved = self._log_state.evaluate({row["RootRunId"] for row in rows if row["FailedRuns"]})
        for root in fired:
            self._send(self._log_email, f"[native] Fired: aml-failed-runs (RootRunId = {root})", now)
        for root in resolved:
            self._send(self._log_email, f"[native] Resolved: aml-failed-runs (RootRunId = {root})", now)

    def _evaluate_metric_rule(self, now: datetime) -> None:
        from azure.core.exceptions import AzureError

        start = now - METRIC_WINDOW
        resources = tuple(workspace_resource_id(ws).lower() for ws in WORKSPACES)
        query = MetricQuery(AML_NAMESPACE, FAILED_RUNS, "Total", timedelta(minutes=1))
        try:
            series = self._metrics.query(DEFAULT_REGION, resources, query, start, now)
        except AzureError as err:
            self.failed_evaluations += 1
            log.debug("native metric rule: query failed: %s", err)
            return
        breaching = {
            s.resource_id.rstrip("/").rsplit("/", 1)[-1].lower()
            for s in series
            if sum(value or 0 for at, value in s.points if start <= at < now) > 0
        }
        fired, resolved = self._metric_state.evaluate(breaching)
        for ws in fired:
            self._send(self._metric_email, f"[native] Fired: Failed Runs > 0 on {ws} at {now:%Y-%m-%dT%H:%M}", now)
        for ws in resolved:
            self._send(self._metric_email, f"[native] Resolved: Failed Runs > 0 on {ws} at {now:%Y-%m-%dT%H:%M}", now)

    def _send(self, email: AcsEmail, subject: str, now: datetime) -> None:
        try:
            email.send(Email(subject, subject, subject), self._recipients, str(uuid.uuid4()), now)
        except SendFailed as err:  # the action group retries a few times, then drops it; counted
            self.failed_sends += 1
            log.debug("native: send failed: %s", err)
