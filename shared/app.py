"""The composition root: builds the clients and stores from settings once per process, the scans from the detector
registry (shared/detectors/__init__.py) and the channels from the channel table (shared/channels/__init__.py),
and offers one use case per kind of function: `tick(name)` for each timer scan (fanned out over the scan-workspaces
queue: `scan_workspace`), `receive_alert`, `send_notifications` (the notifications queue), `deliver_outbox`.
docs/queues.md: the queues.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared import detectors, silences
from shared.azure.log_analytics import LogAnalytics
from shared.azure.metrics import MetricsApi
from shared.azure.tables import Tables
from shared.channels import CHANNELS, ChannelDeps
from shared.detectors.base import Shape
from shared.detectors.metric_rules import MetricsRegionMissing, check_regions
from shared.outbox import store
from shared.outbox.delivery import DeliveryReport, OutboxDelivery
from shared.outbox.intake import Intake, notify_through
from shared.outbox.records import RetryPolicy
from shared.outbox.store import IncidentStore
from shared.routing import Destination, destination_for
from shared.rules import Rules, Silence
from shared.scans import metric_states, state
from shared.scans.log_scan import LogScan, ScanPolicy
from shared.scans.metric_scan import MetricScan
from shared.scans.metric_states import MetricStates
from shared.scans.periodic import PeriodicCheck
from shared.scans.reports import FanOutReport, MetricTickReport, TickReport, WorkspaceScan
from shared.scans.state import ScanState
from shared.settings import HOST_SETTINGS, SETTINGS, Settings, SettingsError
from shared.silences import SilenceStore
from shared.webhook import deliveries

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.azure.queues import Queues
    from shared.outbox.channel import Channel
    from shared.webhook.answers import WebhookAnswer
    from shared.webhook.handler import AlertWebhook
    from shared.webhook.secure import SecureWebhook

log = logging.getLogger(__name__)

# Every table, each owned by one store; all are created by infra/main.bicep (a contract test checks).
TABLES = state.TABLES + store.TABLES + silences.TABLES + metric_states.TABLES + deliveries.TABLES
# Every setting the app and its host read: the contract with local.settings.sample.json, the README and the Bicep.
ALL_SETTINGS = SETTINGS + HOST_SETTINGS + detectors.schedule_settings()


class AlertingApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engines: dict[str, LogScan | PeriodicCheck] = {}

    @cached_property
    def rules(self) -> Rules:
        from shared.rules_yaml import load_rules

        return load_rules(self.settings.rules_file, channels=tuple(CHANNELS))

    @cached_property
    def credential(self) -> TokenCredential:
        from shared.azure.credentials import azure_credential

        return azure_credential(self.settings.credential_kind, self.settings.credential_client_id)

    def _tables(self, **client_options: Any) -> Tables:
        storage = self.settings.state_storage
        return Tables.connect(
            storage.connection_string, storage.table_endpoint, self.credential, TABLES, **client_options
        )

    @cached_property
    def tables(self) -> Tables:
        return self._tables()

    @cached_property
    def webhook_tables(self) -> Tables:
        """The webhook's own table client: short timeouts and one retry, so that a slow table service fails a
        request within its budget (Azure retries it) instead of holding it; the timers keep the SDK defaults."""
        return self._tables(retry_total=1, retry_backoff_factor=0.2, connection_timeout=2, read_timeout=4)

    def ensure_tables(self) -> None:
        """Create the tables now (they are otherwise created on first use)."""
        self.tables.ensure()

    @cached_property
    def incidents(self) -> IncidentStore:
        return IncidentStore(self.tables)

    @cached_property
    def scan_state(self) -> ScanState:
        return ScanState(self.tables)

    @cached_property
    def silences(self) -> SilenceStore:
        return SilenceStore(self.tables)

    @cached_property
    def metric_states(self) -> MetricStates:
        return MetricStates(self.tables)

    @cached_property
    def logs(self) -> LogAnalytics:
        return LogAnalytics(self.settings.log_analytics_endpoint, self.credential)

    @cached_property
    def webhook_logs(self) -> LogAnalytics:
        """The enrichment's Log Analytics client: a few seconds, no retries (enrich.log_analytics.ENRICHMENT_TIMEOUT);
        without details the alert is still emailed, and the scan emails the pipeline with its steps."""
        return LogAnalytics(
            self.settings.log_analytics_endpoint,
            self.credential,
            retry_total=0,
            server_timeout=3,
            connection_timeout=2,
            read_timeout=4,
        )

    @cached_property
    def metrics(self) -> MetricsApi:
        try:
            check_regions(self.rules.metric_rules, self.settings.metrics_region)
        except MetricsRegionMissing as err:
            raise SettingsError(str(err)) from None
        return MetricsApi(self.settings.metrics_endpoint, self.credential)

    @cached_property
    def channels(self) -> dict[str, Channel[Any]]:
        """Every channel of the channel table, by name (a route names one)."""
        deps = ChannelDeps(self.settings, self.credential)
        return {name: factory(deps) for name, factory in CHANNELS.items()}

    def _queues(self, **client_options: Any) -> Queues | None:
        """None for a storage without a queue service: the producers then send inline (docs/queues.md)."""
        storage = self.settings.state_storage
        if not storage.has_queues:
            return None
        from shared.azure.queues import Queues

        credential = None if storage.connection_string else self.credential
        return Queues(storage.connection_string, storage.queue_endpoint, credential, **client_options)

    @cached_property
    def queues(self) -> Queues | None:
        return self._queues()

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.incidents, self.route, notify_through(self.queues))

    @cached_property
    def delivery(self) -> OutboxDelivery:
        return self._delivery_through(self.incidents)

    def _delivery_through(self, incidents: IncidentStore) -> OutboxDelivery:
        s = self.settings
        policy = RetryPolicy(max_attempts=s.send_max_attempts, base_delay=s.send_retry_base)
        return OutboxDelivery(incidents, self.channels, policy, self.active_silences, self.rules.storm_limit)

    @cached_property
    def scan_policy(self) -> ScanPolicy:
        s = self.settings
        return ScanPolicy(s.workspace_ids, s.scan_overlap, s.scan_lookback, s.first_scan_lookback)

    def engine(self, name: str) -> LogScan | PeriodicCheck:
        """The engine of a Log Analytics scan (WINDOW or PERIODIC), built from the registry on first use."""
        if name not in self._engines:
            spec = detectors.by_scan(name)
            if spec.build is None or spec.shape not in (Shape.WINDOW, Shape.PERIODIC):
                raise ValueError(f"{name} is not a Log Analytics scan")
            detector: Any = spec.build(self.rules, self.settings)
            self._engines[name] = (
                PeriodicCheck(detector, self.logs, self.scan_state, self.intake, self.settings.workspace_ids)
                if spec.shape is Shape.PERIODIC
                else LogScan(detector, self.logs, self.scan_state, self.intake, self.scan_policy)
            )
        return self._engines[name]

    @cached_property
    def metric_scan(self) -> MetricScan:
        s = self.settings
        return MetricScan(self.rules.metric_rules, self.metrics, self.metric_states, self.intake, s.metrics_region)

    @cached_property
    def secure_webhook(self) -> SecureWebhook | None:
        """The Secure Webhook token check, when WEBHOOK_AUTH=entra; None means the function key alone."""
        if self.settings.webhook_auth != "entra" or self.settings.webhook_tenant_id is None:
            return None
        from shared.webhook.secure import SecureWebhook

        return SecureWebhook(self.settings.webhook_tenant_id, self.settings.webhook_audiences)

    @cached_property
    def alert_webhook(self) -> AlertWebhook:
        """Over the webhook's own bounded clients (tables, Log Analytics), which fit its request budget."""
        from shared.enrich import Enrichers
        from shared.enrich.log_analytics import LogAnalyticsEnricher
        from shared.webhook.deliveries import WebhookDeliveries
        from shared.webhook.handler import AlertWebhook

        s = self.settings
        incidents = IncidentStore(self.webhook_tables)
        return AlertWebhook(
            settings=s,
            deliveries=WebhookDeliveries(self.webhook_tables),
            # The queue client also fits the budget: a slow queue fails the enqueue, and the outbox timer sends.
            intake=Intake(
                incidents,
                self.route,
                notify_through(self._queues(retry_total=1, read_timeout=2)),
            ),
            enrichers=Enrichers([LogAnalyticsEnricher(self.webhook_logs, s.workspace_ids, s.group_wait)]),
            delivery=self._delivery_through(incidents),
            secure=self.secure_webhook,
        )

    def route(self, labels: Mapping[str, str]) -> Destination:
        """Where an incident with these labels goes (kind, workspace, experiment, compute, rule, operation)."""
        return destination_for(labels, self.rules.routes, self.settings.email_recipients)

    def recipients_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return self.route(labels).recipients

    def active_silences(self, now: datetime) -> list[Silence]:
        """Planned silences from the rules file and ad-hoc ones added from the CLI."""
        return [*self.rules.silences, *self.silences.active(now)]

    # --- use cases, one per kind of function -------------------------------------------------------------------

    def tick(self, name: str, now: datetime) -> TickReport | MetricTickReport | FanOutReport:
        """A scan's timer: a Log Analytics scan puts one message per workspace on the scan-workspaces queue
        (scan_workspace runs each); the metric scan, or any scan on a storage without queues, runs here."""
        if self.queues is None or detectors.by_scan(name).shape is Shape.METRICS:
            return self.scan(name, now)
        from shared.scans.fanout import enqueue_workspaces

        self.engine(name)  # a name that is not a Log Analytics scan fails here, before anything is put
        return FanOutReport(name, enqueue_workspaces(self.queues, name, self.settings.workspace_ids, now))

    def scan(self, name: str, now: datetime, since: timedelta | None = None) -> TickReport | MetricTickReport:
        """One tick of the scan `name` (a registry scan name) over every workspace in turn, then the delivery of
        what is due (unless the queue sends it). `since` replays a past window (the CLI); the watermark stays."""
        if detectors.by_scan(name).shape is Shape.METRICS:
            rules = self.metric_scan.run(now) if self.rules.metric_rules else []
            return MetricTickReport(rules, self._deliver_inline(now))
        engine = self.engine(name)
        scans = engine.run(now, since) if isinstance(engine, LogScan) else engine.run(now)
        return TickReport(scans, self._deliver_inline(now))

    def _deliver_inline(self, now: datetime) -> DeliveryReport:
        return DeliveryReport() if self.intake.queued else self.delivery.deliver_due(now)

    def scan_workspace(self, body: bytes, dequeue_count: int, now: datetime) -> WorkspaceScan | None:
        """One `scan-workspaces` message: its workspace, under its lease (scans/fanout.py)."""
        from shared.scans.fanout import handle_message

        return handle_message(body, dequeue_count, now, self.engine, self.scan_state, self.settings.workspace_ids)

    def send_notifications(self, body: bytes, dequeue_count: int, now: datetime) -> DeliveryReport | None:
        """One `notifications` message: send the incidents it names (outbox/queued.py). Raises to be tried again."""
        from shared.outbox.queued import NoticeQueue, send_notifications

        if self.queues is None:
            raise SettingsError("send_notifications needs a storage account with a queue service")
        notices = NoticeQueue(self.queues)
        return send_notifications(
            body, dequeue_count, now, delivery=self.delivery, store=self.incidents, notices=notices
        )

    def receive_alert(self, body: bytes, headers: Mapping[str, str], now: datetime) -> WebhookAnswer:
        """One action-group delivery -> a WebhookAnswer (status, JSON body, headers); never raises."""
        return self.alert_webhook.receive(body, headers, now)

    def deliver_outbox(self, now: datetime) -> DeliveryReport:
        """Send what is due, then each store's retention (RETENTION_DAYS)."""
        report = self.delivery.deliver_due(now)
        cutoff = now - self.settings.retention
        removed = {
            "incident": self.incidents.delete_older_than(cutoff),
            "history": self.scan_state.delete_older_than(cutoff),
            "webhook delivery": deliveries.WebhookDeliveries(self.tables).delete_older_than(cutoff),
            "metric state": self.metric_states.delete_older_than(cutoff),
            "silence": self.silences.delete_older_than(cutoff),
        }
        if any(removed.values()):
            log.info("Retention removed %s", ", ".join(f"{n} old {what} row(s)" for what, n in removed.items() if n))
        return report
