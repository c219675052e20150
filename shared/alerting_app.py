"""The composition root: builds the clients from settings once per process and offers one use case per function."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from shared.acs_email import AcsEmail, Email
from shared.email_render import render_incident
from shared.log_analytics import LogAnalytics
from shared.outbox import OutboxRecord, RetryPolicy
from shared.outbox_delivery import DeliveryReport, OutboxDelivery
from shared.run_failure_scan import RunFailureScan, ScanPolicy, WorkspaceScan
from shared.settings import Settings
from shared.state_tables import StateTables

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    scans: list[WorkspaceScan]
    delivery: DeliveryReport

    def summary(self) -> str:
        rows = sum(scan.rows for scan in self.scans)
        incidents = sum(len(scan.incidents) for scan in self.scans)
        claimed = sum(scan.claimed for scan in self.scans)
        incomplete = [scan.workspace_id for scan in self.scans if not scan.complete]
        text = (
            f"{len(self.scans)} workspace(s), {rows} rows, {incidents} incident(s), {claimed} new; "
            f"sent {self.delivery.sent}, retrying {self.delivery.retrying}, dead {self.delivery.dead}"
        )
        return text + (f"; partial results from {', '.join(incomplete)}" if incomplete else "")


class AlertingApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def credential(self):
        from shared.credentials import azure_credential

        return azure_credential(self.settings.credential_kind)

    @cached_property
    def state(self) -> StateTables:
        storage = self.settings.state_storage
        return StateTables.connect(storage.connection_string, storage.table_endpoint, self.credential)

    @cached_property
    def logs(self) -> LogAnalytics:
        return LogAnalytics(self.settings.log_analytics_endpoint, self.credential)

    @cached_property
    def email(self) -> AcsEmail:
        return AcsEmail(self.settings.acs_endpoint, self.credential, self.settings.email_sender)

    @cached_property
    def run_failure_scan(self) -> RunFailureScan:
        s = self.settings
        policy = ScanPolicy(s.workspace_ids, s.scan_overlap, s.scan_lookback, s.first_scan_lookback, s.group_wait,
                            self.recipients_for)
        return RunFailureScan(self.logs, self.state, policy)

    @cached_property
    def delivery(self) -> OutboxDelivery:
        policy = RetryPolicy(max_attempts=self.settings.send_max_attempts, base_delay=self.settings.send_retry_base)
        return OutboxDelivery(self.state, self.email, self.render, policy)

    @cached_property
    def secure_webhook(self):
        """The Secure Webhook token check, when WEBHOOK_AUTH=entra; None means the function key alone."""
        if self.settings.webhook_auth != "entra":
            return None
        from shared.secure_webhook import SecureWebhook

        return SecureWebhook(self.settings.webhook_tenant_id, self.settings.webhook_audience)

    @cached_property
    def alert_webhook(self):
        from shared.alert_webhook import AlertWebhook

        return AlertWebhook(settings=self.settings, state=self.state, logs=self.logs, delivery=self.delivery,
                            route=self.recipients_for, secure=self.secure_webhook)

    def recipients_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Who hears about an incident with these labels (kind, workspace, experiment, compute, rule)."""
        return self.settings.email_recipients

    def render(self, record: OutboxRecord) -> Email:
        return render_incident(record.kind, record.payload, self.settings.studio_tenant_id)

    # --- use cases, one per function ---------------------------------------------------------------------------

    def scan_run_failures(self, now: datetime) -> TickReport:
        return self.scan_run_failures_since(now, None)

    def scan_run_failures_since(self, now: datetime, since: timedelta | None) -> TickReport:
        """`since` replays a past window (CLI) without moving the watermark."""
        scans = self.run_failure_scan.run(now, since)
        return TickReport(scans, self.delivery.deliver_due(now))

    def receive_alert(self, body: bytes, headers: Mapping[str, str], now: datetime):
        """One action-group delivery -> a WebhookAnswer (status, JSON body, headers); never raises."""
        return self.alert_webhook.receive(body, headers, now)

    def deliver_outbox(self, now: datetime) -> DeliveryReport:
        report = self.delivery.deliver_due(now)
        removed = self.state.delete_older_than(now - self.settings.retention)
        if removed:
            log.info("Retention removed %d old incident and history rows", removed)
        return report
