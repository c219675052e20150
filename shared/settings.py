"""App settings: read once, validated, with an error that names the setting.

Every name read here is in one table (`_READ`: Settings field -> app setting, parser, default), which also makes
`SETTINGS`, so that the sample settings file, the README and the Bicep app settings can be checked against it
(tests/infra/test_infra_settings_contract.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.core import setting_values as v


class SettingsError(ValueError):
    """One or more app settings are missing or invalid; the message names each of them."""


@dataclass(frozen=True)
class StateStorage:
    """Where the state tables live: a connection string (Azurite, keys) or an account name (managed identity)."""

    connection_string: str | None = None
    table_endpoint: str | None = None
    queue_endpoint: str | None = None

    @property
    def has_queues(self) -> bool:
        """Whether the account has a queue service to use (docs/queues.md): always in Azure; a connection string
        that names its endpoints must name a QueueEndpoint (a table-only Azurite has none: the app then sends inline,
        as it did before the queues)."""
        if self.connection_string is None:
            return self.queue_endpoint is not None
        parts = self.connection_string.lower()
        return "queueendpoint=" in parts or "endpoint=" not in parts


@dataclass(frozen=True)
class Settings:
    state_storage: StateStorage
    workspace_ids: tuple[str, ...]
    log_analytics_endpoint: str
    metrics_endpoint: str  # a template with {region}
    metrics_region: str | None  # region of metric rules' resource_ids that name none
    acs_endpoint: str
    email_sender: str
    email_recipients: tuple[str, ...]
    credential_kind: str
    credential_client_id: str | None
    studio_tenant_id: str | None
    scan_overlap: timedelta
    scan_lookback: timedelta
    first_scan_lookback: timedelta
    group_wait: timedelta
    send_max_attempts: int
    send_retry_base: timedelta
    retention: timedelta
    rules_file: Path
    webhook_auth: str = "function-key"
    webhook_audiences: tuple[str, ...] = ()
    webhook_tenant_id: str | None = None
    webhook_allowed_scopes: tuple[str, ...] = ()
    enrichment_margin: timedelta = timedelta(minutes=15)
    run_history_enabled: bool = True
    arm_endpoint: str = "https://management.azure.com"
    run_history_hosts: tuple[str, ...] = ()
    run_history_incident_seconds: int = 30
    run_history_tick_seconds: int = 120
    run_history_max_steps: int = 3
    run_history_recent_runs: int = 10
    aml_workspace_ids: tuple[str, ...] = ()  # the Azure ML workspaces whose schedules are checked
    # TEAMS_WEBHOOK_<NAME> -> its URL, a secret (Key Vault reference in Azure): never in repr, logs or tables.
    teams_webhooks: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        storage = reader.state_storage()
        values = {field: reader.get(setting.name, setting.parse, setting.default) for field, setting in _READ.items()}
        metrics_endpoint, endpoint_region = values["metrics_endpoint"] or (None, None)
        values["metrics_endpoint"] = metrics_endpoint
        values["metrics_region"] = values["metrics_region"] or endpoint_region
        teams = {name: value for name, value in env.items() if name.upper().startswith(TEAMS_WEBHOOK_PREFIX)}
        settings = cls(state_storage=storage, teams_webhooks=teams, **values)
        # The timers' schedules are read by the Functions host, which names neither the setting nor the form when
        # one is wrong: every *_SCHEDULE setting (the registry's and OUTBOX_SCHEDULE) is checked here.
        for name in sorted(name for name in env if name.endswith("_SCHEDULE") and env[name].strip()):
            reader.get(name, v.ncrontab)
        if settings.webhook_auth == "entra":
            for name, value in (
                ("WEBHOOK_TENANT_ID", settings.webhook_tenant_id),
                ("WEBHOOK_AUDIENCE", settings.webhook_audiences),
            ):
                if not value:
                    reader.problem(f"{name} is required when WEBHOOK_AUTH=entra")
        if settings.credential_kind == "managed-identity" and not settings.credential_client_id:
            reader.problem("AZURE_CLIENT_ID is required when AZURE_CREDENTIAL=managed-identity (its client id)")
        reader.raise_if_invalid()
        return settings


# One setting per Teams destination (shared/channels/teams/destinations.py); dynamic names, so not in _READ.
TEAMS_WEBHOOK_PREFIX = "TEAMS_WEBHOOK_"


def some_settings(*fields: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Only these Settings fields, for the commands that need a few (silence: the storage; test-email: ACS), each
    read and checked as `from_environ` does; SettingsError names what is missing. `state_storage` is a field too."""
    reader = _Reader(os.environ if environ is None else environ)
    values = {
        field: reader.state_storage() if field == "state_storage" else reader.get(*astuple(_READ[field]))
        for field in fields
    }
    reader.raise_if_invalid()
    return values


# Read by the Functions host, not by this module, but still part of the contract (sample file, Bicep). The scans'
# schedules (RUN_FAILURES_SCHEDULE, ...) are listed by the detector registry (shared/detectors/__init__.py).
HOST_SETTINGS = ("AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "OUTBOX_SCHEDULE")


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._problems: list[str] = []

    def get(self, name: str, parse: Callable[[str], Any], default: str | None = None) -> Any:
        raw = self._env.get(name, "").strip()
        if not raw:
            if default is None:
                self._problems.append(f"{name} is not set ({v.EXPECTED.get(parse, 'a value')} expected)")
                return None
            raw = default
        try:
            return parse(raw)
        except ValueError as err:
            self._problems.append(f"{name}={raw!r} is invalid: {err}")
            return None

    def state_storage(self) -> StateStorage:
        connection = self._env.get("AzureWebJobsStorage", "").strip()
        if connection:
            return StateStorage(connection_string=connection)
        account = self._env.get("AzureWebJobsStorage__accountName", "").strip()
        if account:
            if not re.fullmatch(r"[a-z0-9]{3,24}", account):
                self._problems.append(f"AzureWebJobsStorage__accountName={account!r} is not a storage account name")
            return StateStorage(
                table_endpoint=f"https://{account}.table.core.windows.net",
                queue_endpoint=f"https://{account}.queue.core.windows.net",
            )
        self._problems.append(
            "AzureWebJobsStorage is not set (a connection string such as UseDevelopmentStorage=true, "
            "or AzureWebJobsStorage__accountName for managed identity)"
        )
        return StateStorage()

    def problem(self, message: str) -> None:
        self._problems.append(message)

    def raise_if_invalid(self) -> None:
        if self._problems:
            raise SettingsError("Invalid app settings:\n  - " + "\n  - ".join(self._problems))


APP_ROOT = Path(__file__).resolve().parent.parent  # where function_app.py and rules.yaml are deployed


def _app_path(raw: str) -> Path:
    return Path(raw) if Path(raw).is_absolute() else APP_ROOT / raw


@dataclass(frozen=True)
class _Setting:
    name: str
    parse: Callable[[str], Any]
    default: str | None = None  # None: required


# Settings field -> the app setting it is read from: the one list of the app's settings.
_READ: dict[str, _Setting] = {
    "workspace_ids": _Setting("LOG_ANALYTICS_WORKSPACE_IDS", v.guid_list),
    "log_analytics_endpoint": _Setting("LOG_ANALYTICS_ENDPOINT", v.https_url, "https://api.loganalytics.io"),
    "metrics_endpoint": _Setting("METRICS_ENDPOINT", v.metrics_endpoint, v.DEFAULT_METRICS_ENDPOINT),
    "metrics_region": _Setting("METRICS_REGION", v.optional_region, ""),
    "acs_endpoint": _Setting("ACS_ENDPOINT", v.https_url),
    "email_sender": _Setting("EMAIL_SENDER", v.email),
    "email_recipients": _Setting("EMAIL_RECIPIENTS", v.email_list),
    "credential_kind": _Setting("AZURE_CREDENTIAL", v.CREDENTIAL_KINDS, "default"),
    "credential_client_id": _Setting("AZURE_CLIENT_ID", v.optional_guid, ""),
    "studio_tenant_id": _Setting("STUDIO_TENANT_ID", v.optional_guid, ""),
    "scan_overlap": _Setting("SCAN_OVERLAP_MINUTES", v.duration("minutes", 0, 24 * 60), "15"),
    "scan_lookback": _Setting("SCAN_LOOKBACK_HOURS", v.duration("hours", 1, 24 * 30), "48"),
    "first_scan_lookback": _Setting("FIRST_SCAN_LOOKBACK_MINUTES", v.duration("minutes", 1, 7 * 24 * 60), "60"),
    "group_wait": _Setting("GROUP_WAIT_SECONDS", v.duration("seconds", 0, 3600), "120"),
    "send_max_attempts": _Setting("SEND_MAX_ATTEMPTS", v.int_range(1, 100), "8"),
    "send_retry_base": _Setting("SEND_RETRY_BASE_SECONDS", v.duration("seconds", 1, 3600), "60"),
    # At least a week: a re-detected incident must still find its claim, or it would be sent again.
    "retention": _Setting("RETENTION_DAYS", v.duration("days", 7, 365), "30"),
    "rules_file": _Setting("RULES_FILE", _app_path, "rules.yaml"),
    "webhook_auth": _Setting("WEBHOOK_AUTH", v.one_of("function-key", "entra"), "function-key"),
    "webhook_audiences": _Setting("WEBHOOK_AUDIENCE", v.audience_list, ""),
    "webhook_tenant_id": _Setting("WEBHOOK_TENANT_ID", v.optional_guid, ""),
    "webhook_allowed_scopes": _Setting("WEBHOOK_ALLOWED_SCOPES", v.scope_list, ""),
    "enrichment_margin": _Setting("ENRICHMENT_MARGIN_MINUTES", v.duration("minutes", 0, 360), "15"),
    # Azure ML run history at delivery (docs/run-history.md): on/off, where, and its time per incident and per tick.
    "run_history_enabled": _Setting("RUN_HISTORY_ENABLED", v.flag, "true"),
    "arm_endpoint": _Setting("ARM_ENDPOINT", v.https_url, "https://management.azure.com"),
    "run_history_hosts": _Setting("RUN_HISTORY_EXTRA_HOSTS", v.host_suffixes, ""),
    "run_history_incident_seconds": _Setting("RUN_HISTORY_INCIDENT_SECONDS", v.int_range(5, 120), "30"),
    "run_history_tick_seconds": _Setting("RUN_HISTORY_TICK_SECONDS", v.int_range(10, 240), "120"),
    "run_history_max_steps": _Setting("RUN_HISTORY_MAX_STEPS", v.int_range(1, 10), "3"),
    "run_history_recent_runs": _Setting("RUN_HISTORY_RECENT_RUNS", v.int_range(0, 50), "10"),
    "aml_workspace_ids": _Setting("AML_WORKSPACE_IDS", v.aml_workspace_list, ""),
}
SETTINGS = tuple(setting.name for setting in _READ.values())
