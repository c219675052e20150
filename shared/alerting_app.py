"""The composition root: builds the clients from settings once per process and offers one use case per function."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from shared.acs_email import AcsEmail, Email
from shared.compute_changes import ComputeChangeDetector
from shared.email_render import render_digest, render_incident
from shared.log_analytics import LogAnalytics
from shared.log_scan import LogScan, ScanPolicy, WorkspaceScan
from shared.metric_scan import MetricScan, RuleScan
from shared.metrics_api import MetricsApi, MetricsRegionMissing, check_regions
from shared.outbox import OutboxRecord, RetryPolicy
from shared.outbox_delivery import DeliveryReport, OutboxDelivery
from shared.routing import recipients_for
from shared.rules import Rules, Silence
from shared.run_failures import RunFailureDetector
from shared.settings import Settings, SettingsError
from shared.state_tables import StateTables

log = logging.getLogger(__name__)


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
        return (text + (f"; partial results from {', '.join(partial)}" if partial else "")
                + (f"; {skipped} row(s) skipped (see the log)" if skipped else "")
                + (f"; not stored in full (alerted in minimal form): {', '.join(not_stored)}" if not_stored else "")
                + (f"; NOT READ, retried next tick: {failed}" if failed else ""))


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


class AlertingApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def rules(self) -> Rules:
        from shared.rules import load_rules

        return load_rules(self.settings.rules_file)

    @cached_property
    def credential(self):
        from shared.credentials import azure_credential

        return azure_credential(self.settings.credential_kind, self.settings.credential_client_id)

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
    def scan_policy(self) -> ScanPolicy:
        s = self.settings
        return ScanPolicy(s.workspace_ids, s.scan_overlap, s.scan_lookback, s.first_scan_lookback, self.recipients_for)

    @cached_property
    def run_failure_scan(self) -> LogScan:
        watch = self.rules.run_failures
        detector = RunFailureDetector(self.settings.group_wait, tuple(watch.statuses), tuple(watch.workspaces))
        return LogScan(detector, self.logs, self.state, self.scan_policy)

    @cached_property
    def compute_change_scan(self) -> LogScan:
        watch = self.rules.compute_changes
        detector = ComputeChangeDetector(tuple(watch.operations), tuple(watch.workspaces))
        return LogScan(detector, self.logs, self.state, self.scan_policy)

    @cached_property
    def metrics(self) -> MetricsApi:
        try:
            check_regions(self.rules.metric_rules, self.settings.metrics_region)
        except MetricsRegionMissing as err:
            raise SettingsError(str(err)) from None
        return MetricsApi(self.settings.metrics_endpoint, self.credential, self.settings.metrics_region)

    @cached_property
    def metric_scan(self) -> MetricScan:
        return MetricScan(self.rules.metric_rules, self.metrics, self.state, self.recipients_for)

    @cached_property
    def delivery(self) -> OutboxDelivery:
        return self._delivery_through(self.state)

    def _delivery_through(self, state: StateTables) -> OutboxDelivery:
        policy = RetryPolicy(max_attempts=self.settings.send_max_attempts, base_delay=self.settings.send_retry_base)
        return OutboxDelivery(state, self.email, self.render, render_digest, policy, self.active_silences,
                              self.rules.storm_limit)

    @cached_property
    def webhook_state(self) -> StateTables:
        """The webhook's own table client: short timeouts and one retry, so that a slow table service fails a
        request within its budget (Azure retries it) instead of holding it; the timers keep the SDK defaults."""
        storage = self.settings.state_storage
        return StateTables.connect(storage.connection_string, storage.table_endpoint, self.credential,
                                   retry_total=1, retry_backoff_factor=0.2, connection_timeout=2, read_timeout=4)

    @cached_property
    def webhook_logs(self) -> LogAnalytics:
        """The enrichment's Log Analytics client: a few seconds, no retries (shared.alert_webhook.ENRICHMENT_TIMEOUT);
        without details the alert is still emailed, and the scan emails the pipeline with its steps."""
        return LogAnalytics(self.settings.log_analytics_endpoint, self.credential, retry_total=0, server_timeout=3,
                            connection_timeout=2, read_timeout=4)

    @cached_property
    def secure_webhook(self):
        """The Secure Webhook token check, when WEBHOOK_AUTH=entra; None means the function key alone."""
        if self.settings.webhook_auth != "entra":
            return None
        from shared.secure_webhook import SecureWebhook

        return SecureWebhook(self.settings.webhook_tenant_id, self.settings.webhook_audiences)

    @cached_property
    def alert_webhook(self):
        from shared.alert_webhook import AlertWebhook

        return AlertWebhook(settings=self.settings, state=self.webhook_state, logs=self.webhook_logs,
                            delivery=self._delivery_through(self.webhook_state), route=self.recipients_for,
                            secure=self.secure_webhook)

    def recipients_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Who hears about an incident with these labels (kind, workspace, experiment, compute, rule)."""
        return recipients_for(labels, self.rules.routes, self.settings.email_recipients)

    def active_silences(self, now: datetime) -> list[Silence]:
        """Planned silences from the rules file and ad-hoc ones added from the CLI."""
        return [*self.rules.silences, *self.state.silences(now)]

    def render(self, record: OutboxRecord) -> Email:
        return render_incident(record.kind, record.payload, self.settings.studio_tenant_id)

    # --- use cases, one per function ---------------------------------------------------------------------------

    def scan_run_failures(self, now: datetime, since: timedelta | None = None) -> TickReport:
        """`since` replays a past window (CLI) without moving the watermark."""
        return TickReport(self.run_failure_scan.run(now, since), self.delivery.deliver_due(now))

    def scan_compute_changes(self, now: datetime, since: timedelta | None = None) -> TickReport:
        return TickReport(self.compute_change_scan.run(now, since), self.delivery.deliver_due(now))

    def scan_metrics(self, now: datetime) -> MetricTickReport:
        rules = self.metric_scan.run(now) if self.rules.metric_rules else []
        return MetricTickReport(rules, self.delivery.deliver_due(now))

    def receive_alert(self, body: bytes, headers: Mapping[str, str], now: datetime):
        """One action-group delivery -> a WebhookAnswer (status, JSON body, headers); never raises."""
        return self.alert_webhook.receive(body, headers, now)

    def deliver_outbox(self, now: datetime) -> DeliveryReport:
        report = self.delivery.deliver_due(now)
        removed = self.state.delete_older_than(now - self.settings.retention)
        if removed:
            log.info("Retention removed %d old incident and history rows", removed)
        return report
