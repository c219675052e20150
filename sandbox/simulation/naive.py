"""The usual approach, for comparison: every N minutes, query the last N minutes by TimeGenerated, keep no state,
send one email per matching row (per breaching point for a metric). It runs against the same sandbox with the
same SDK clients (the app's thin I/O wrappers) and sends through the same ACS, from its own sender address.

A failed send is logged and dropped: there is no outbox to retry from.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sandbox.metrics import DEFAULT_REGION, endpoint_template
from shared.acs_email import AcsEmail, Email, SendFailed
from shared.credentials import EmulatorCredential
from shared.kql import kql_datetime
from shared.log_analytics import LogAnalytics, QueryFailed
from shared.metrics_api import MetricsApi
from shared.rules import MetricRule

log = logging.getLogger(__name__)

RUNS = """AmlRunStatusChangedEvent
| where TimeGenerated > {start} and TimeGenerated <= {end}
| where Status == "Failed"
| project TimeGenerated, RunId, RootRunId, WorkspaceName, Status"""
DELETES = """AzureActivity
| where TimeGenerated > {start} and TimeGenerated <= {end}
| where OperationNameValue =~ "Microsoft.MachineLearningServices/workspaces/computes/delete"
| project TimeGenerated, CorrelationId, ActivityStatusValue, _ResourceId"""


class NaiveAlerter:
    def __init__(self, name: str, every: timedelta, endpoint: str, workspace_id: str, rule: MetricRule,
                 recipients: tuple[str, ...]) -> None:
        credential = EmulatorCredential()
        self.name = name
        self.every = every
        self.sender = f"naive-{name.lower()}@alerts.contoso.com"
        self._logs = LogAnalytics(endpoint, credential)
        self._metrics = MetricsApi(endpoint_template(endpoint), credential, DEFAULT_REGION)
        self._email = AcsEmail(endpoint, credential, self.sender)
        self._workspace_id = workspace_id
        self._rule = rule
        self._recipients = recipients
        self.failed_sends = 0
        self.failed_queries = 0

    def tick(self, now: datetime) -> None:
        start, end = now - self.every, now
        window = {"start": kql_datetime(start), "end": kql_datetime(end)}
        for row in self._rows(RUNS.format(**window), start, end):
            root = row["RootRunId"] or row["RunId"]
            self._send(f"[naive] run-failure:{row['WorkspaceName']}:{root} - {row['RunId']} Failed", now)
        for row in self._rows(DELETES.format(**window), start, end):
            self._send(f"[naive] compute-change:{row['CorrelationId']} - {row['ActivityStatusValue']}", now)
        for series in self._metrics.read(self._rule, start, end).series:
            resource = series.resource_id.rstrip("/").rsplit("/", 1)[-1]
            for at, value in series.points:
                if value is not None and self._rule.breaches(value) and start <= at < end:
                    self._send(f"[naive] drift {resource} {value:g} at {at:%H:%M}", now)

    def _rows(self, query: str, start: datetime, end: datetime) -> list[dict]:
        try:
            return self._logs.query(self._workspace_id, query, start, end).rows
        except QueryFailed as err:  # before a table's first row it does not exist (400): nothing to alert on
            self.failed_queries += 1
            log.debug("naive %s: query failed: %s", self.name, err)
            return []

    def _send(self, subject: str, now: datetime) -> None:
        try:
            self._email.send(Email(subject, subject, subject), self._recipients, str(uuid.uuid4()), now)
        except SendFailed as err:
            self.failed_sends += 1
            log.debug("naive %s: send failed, dropped: %s", self.name, err)
