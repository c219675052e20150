"""The Azure clients and the stores over them, built from settings once per process (the composition root's lower
half; shared/app/__init__.py builds the scans, the outbox and the webhook over these)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared import silences
from shared.azure.log_analytics import LogAnalytics
from shared.azure.tables import Tables
from shared.outbox import store
from shared.outbox.store import IncidentStore
from shared.scans import metric_states, state
from shared.scans.metric_states import MetricStates
from shared.scans.state import ScanState
from shared.settings import Settings
from shared.silences import SilenceStore
from shared.webhook import deliveries

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.azure.arm import Arm
    from shared.azure.queues import Queues
    from shared.azure.run_history import RunHistory

# Every table, each owned by one store; all are created by infra/main.bicep (a contract test checks).
TABLES = state.TABLES + store.TABLES + silences.TABLES + metric_states.TABLES + deliveries.TABLES


class Clients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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
    def enrichment_logs(self) -> LogAnalytics:
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
    def arm(self) -> Arm:
        from shared.azure.arm import Arm

        return Arm(self.credential, endpoint=self.settings.arm_endpoint)

    @cached_property
    def run_history(self) -> RunHistory:
        """Azure ML run history; RUN_HISTORY_EXTRA_HOSTS adds hosts beyond Azure's own (the sandbox's)."""
        from shared.azure.log_tail import BLOB_HOSTS
        from shared.azure.run_history import API_HOSTS, RunHistory

        extra = self.settings.run_history_hosts
        return RunHistory(self.credential, self.arm, api_hosts=API_HOSTS + extra, blob_hosts=BLOB_HOSTS + extra)

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
