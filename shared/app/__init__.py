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

from shared import detectors
from shared.app.clients import TABLES, Clients
from shared.azure.metrics import MetricsApi
from shared.channels import CHANNELS, ChannelDeps, route_targets
from shared.detectors.base import Shape
from shared.detectors.metric_rules import MetricsRegionMissing, check_regions
from shared.outbox.delivery import DeliveryReport, OutboxDelivery
from shared.outbox.intake import Intake
from shared.outbox.queued import notify_through
from shared.outbox.records import RetryPolicy
from shared.outbox.store import IncidentStore
from shared.routing import Destination, destinations_for
from shared.rules import Rules, Silence
from shared.scans.log_scan import LogScan, ScanPolicy
from shared.scans.metric_scan import MetricScan
from shared.scans.periodic import PeriodicCheck
from shared.scans.reports import FanOutReport, MetricTickReport, TickReport, WorkspaceScan
from shared.scans.sourced import SourcedCheck
from shared.scans.sources import SOURCES
from shared.settings import HOST_SETTINGS, SETTINGS, Settings, SettingsError
from shared.webhook import deliveries

if TYPE_CHECKING:
    from shared.enrich import Enrichers
    from shared.outbox.channel import Channel
    from shared.webhook.answers import WebhookAnswer
    from shared.webhook.handler import AlertWebhook
    from shared.webhook.secure import SecureWebhook

__all__ = ["ALL_SETTINGS", "TABLES", "AlertingApp"]

log = logging.getLogger(__name__)

# Every setting the app and its host read: the contract with local.settings.sample.json, the README and the Bicep.
ALL_SETTINGS = SETTINGS + HOST_SETTINGS + detectors.schedule_settings()


class AlertingApp(Clients):
    """The clients and stores (clients.py), and over them the scans, the outbox and the webhook."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._engines: dict[str, LogScan | PeriodicCheck | SourcedCheck] = {}

    @cached_property
    def rules(self) -> Rules:
        from shared.rules_yaml import load_rules

        return load_rules(self.settings.rules_file, channels=route_targets(self.settings))

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

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.incidents, self.destinations, notify_through(self.queues))

    @cached_property
    def delivery(self) -> OutboxDelivery:
        return self._delivery_through(self.intake)

    def _delivery_through(self, intake: Intake) -> OutboxDelivery:
        s = self.settings
        policy = RetryPolicy(max_attempts=s.send_max_attempts, base_delay=s.send_retry_base)
        return OutboxDelivery(
            intake.store,
            self.channels,
            policy,
            self.active_silences,
            self.rules.storm_limit,
            intake,
            enrichers=self.delivery_enrichers,
            enrichment_seconds=(s.run_history_incident_seconds, s.run_history_tick_seconds),
        )

    @cached_property
    def delivery_enrichers(self) -> Enrichers:
        """The enrichers at delivery: webhook alerts to the failed pipelines they are about (Log Analytics), then
        Azure ML run history (RUN_HISTORY_ENABLED) for failed pipelines."""
        from shared.enrich import Enrichers
        from shared.enrich.log_analytics import LogAnalyticsEnricher

        s = self.settings
        enrichers: list[Any] = [LogAnalyticsEnricher(self.enrichment_logs, s.workspace_ids, s.group_wait)]
        if not s.run_history_enabled:
            return Enrichers(enrichers)
        from shared.enrich.run_history import RunHistoryEnricher, RunHistorySettings

        enrichers.append(RunHistoryEnricher(self.run_history, RunHistorySettings(max_steps=s.run_history_max_steps)))
        if s.run_history_recent_runs:  # the "Before this run, 3 of the last 10 ... failed" line
            from shared.enrich.recent_history import RecentHistoryEnricher, RecentHistorySettings

            recent = RecentHistorySettings(runs=s.run_history_recent_runs, min_runs=min(3, s.run_history_recent_runs))
            enrichers.append(RecentHistoryEnricher(self.run_history, recent))
        return Enrichers(enrichers)

    @cached_property
    def scan_policy(self) -> ScanPolicy:
        s = self.settings
        return ScanPolicy(s.workspace_ids, s.scan_overlap, s.scan_lookback, s.first_scan_lookback)

    def engine(self, name: str) -> LogScan | PeriodicCheck | SourcedCheck:
        """The engine of a scan (WINDOW or PERIODIC, over KQL or a named source), built from the registry on first
        use."""
        if name not in self._engines:
            spec = detectors.by_scan(name)
            if spec.build is None or spec.shape not in (Shape.WINDOW, Shape.PERIODIC):
                raise ValueError(f"{name} is not a Log Analytics scan")
            detector: Any = spec.build(self.rules, self.settings)
            self._engines[name] = (
                SourcedCheck(detector, SOURCES[spec.source](self), self.scan_state, self.intake)
                if spec.source
                else PeriodicCheck(detector, self.logs, self.scan_state, self.intake, self.settings.workspace_ids)
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
        """Over the webhook's own bounded clients (tables, queue), which fit its request budget."""
        from shared.webhook.deliveries import WebhookDeliveries
        from shared.webhook.handler import AlertWebhook

        # The queue client also fits the budget: a slow queue fails the enqueue, and the outbox timer sends.
        queue = notify_through(self._queues(retry_total=1, read_timeout=2))
        intake = Intake(IncidentStore(self.webhook_tables), self.destinations, queue)
        return AlertWebhook(
            settings=self.settings,
            deliveries=WebhookDeliveries(self.webhook_tables),
            intake=intake,
            delivery=self._delivery_through(intake),
            secure=self.secure_webhook,
        )

    def destinations(self, labels: Mapping[str, str]) -> tuple[Destination, ...]:
        """Where an incident with these labels goes (kind, workspace, experiment, compute, rule, operation)."""
        return destinations_for(labels, self.rules.routes, self.settings.email_recipients)

    def route(self, labels: Mapping[str, str]) -> Destination:
        """The first of its destinations."""
        return self.destinations(labels)[0]

    def recipients_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return self.route(labels).recipients

    def active_silences(self, now: datetime) -> list[Silence]:
        """Planned silences from the rules file and ad-hoc ones added from the CLI."""
        return [*self.rules.silences, *self.silences.active(now)]

    # --- use cases, one per kind of function -------------------------------------------------------------------

    def tick(self, name: str, now: datetime) -> TickReport | MetricTickReport | FanOutReport:
        """A scan's timer. With queues, a scan over workspaces puts one message per workspace on scan-workspaces
        (scan_workspace runs each), and what any scan records goes on notifications (send_notifications sends
        it); without, the whole tick runs here and delivers what is due."""
        if self.queues is None:
            return self.scan(name, now)
        if detectors.by_scan(name).shape is Shape.METRICS:
            return MetricTickReport(self.metric_scan.run(now) if self.rules.metric_rules else [], DeliveryReport())
        from shared.scans.fanout import enqueue_workspaces

        units = self.engine(name).units  # a name that is not a scan over workspaces fails here, before anything is put
        return FanOutReport(name, enqueue_workspaces(self.queues, name, units, now))

    def scan(self, name: str, now: datetime, since: timedelta | None = None) -> TickReport | MetricTickReport:
        """One whole tick of the scan `name` (a registry scan name) in this process, every workspace in turn, then
        the delivery of what is due (the CLI; the timer without queues). `since` replays a past window of a WINDOW
        scan without moving the watermark."""
        if detectors.by_scan(name).shape is Shape.METRICS:
            rules = self.metric_scan.run(now) if self.rules.metric_rules else []
            return MetricTickReport(rules, self.delivery.deliver_due(now))
        engine = self.engine(name)
        scans = engine.run(now, since) if isinstance(engine, LogScan) else engine.run(now)
        return TickReport(scans, self.delivery.deliver_due(now))

    def scan_workspace(self, body: bytes, dequeue_count: int, now: datetime) -> WorkspaceScan | None:
        """One `scan-workspaces` message: its workspace, under its lease (scans/fanout.py)."""
        from shared.scans.fanout import handle_message

        return handle_message(body, dequeue_count, now, self.engine, self.scan_state)

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
