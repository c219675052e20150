"""App settings: read once, validated, with an error that names the setting.

Every name read here is listed in `SETTINGS` so that the sample settings file and the Bicep app settings
can be checked against it (tests/test_settings_contract.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_REGION = re.compile(r"^[a-z][a-z0-9]*$")
# The Metrics batch API is regional: one endpoint per region. Sovereign clouds: metrics.monitor.azure.us / .cn.
DEFAULT_METRICS_ENDPOINT = "https://{region}.metrics.monitor.azure.com"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class SettingsError(ValueError):
    """One or more app settings are missing or invalid; the message names each of them."""


@dataclass(frozen=True)
class StateStorage:
    """Where the state tables live: a connection string (Azurite, keys) or an account name (managed identity)."""

    connection_string: str | None = None
    table_endpoint: str | None = None


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

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        metrics_endpoint, endpoint_region = reader.get("METRICS_ENDPOINT", _metrics_endpoint,
                                                       DEFAULT_METRICS_ENDPOINT) or (None, None)
        settings = cls(
            state_storage=reader.state_storage(),
            workspace_ids=reader.get("LOG_ANALYTICS_WORKSPACE_IDS", _guid_list),
            log_analytics_endpoint=reader.get("LOG_ANALYTICS_ENDPOINT", _https_url, "https://api.loganalytics.io"),
            metrics_endpoint=metrics_endpoint,
            metrics_region=reader.get("METRICS_REGION", _optional_region, "") or endpoint_region,
            acs_endpoint=reader.get("ACS_ENDPOINT", _https_url),
            email_sender=reader.get("EMAIL_SENDER", _email),
            email_recipients=reader.get("EMAIL_RECIPIENTS", _email_list),
            credential_kind=reader.get("AZURE_CREDENTIAL", _CREDENTIAL_KINDS, "default"),
            credential_client_id=reader.get("AZURE_CLIENT_ID", _optional_guid, ""),
            studio_tenant_id=reader.get("STUDIO_TENANT_ID", _optional_guid, ""),
            scan_overlap=reader.get("SCAN_OVERLAP_MINUTES", _minutes(0, 24 * 60), "15"),
            scan_lookback=reader.get("SCAN_LOOKBACK_HOURS", _hours(1, 24 * 30), "48"),
            first_scan_lookback=reader.get("FIRST_SCAN_LOOKBACK_MINUTES", _minutes(1, 7 * 24 * 60), "60"),
            group_wait=reader.get("GROUP_WAIT_SECONDS", _seconds(0, 3600), "120"),
            send_max_attempts=reader.get("SEND_MAX_ATTEMPTS", _int_range(1, 100), "8"),
            send_retry_base=reader.get("SEND_RETRY_BASE_SECONDS", _seconds(1, 3600), "60"),
            # At least a week: a re-detected incident must still find its claim, or it would be sent again.
            retention=reader.get("RETENTION_DAYS", _days(7, 365), "30"),
            rules_file=reader.get("RULES_FILE", _app_path, "rules.yaml"),
            webhook_auth=reader.get("WEBHOOK_AUTH", _one_of("function-key", "entra"), "function-key"),
            webhook_audiences=reader.get("WEBHOOK_AUDIENCE", _audience_list, ""),
            webhook_tenant_id=reader.get("WEBHOOK_TENANT_ID", _optional_guid, ""),
            webhook_allowed_scopes=reader.get("WEBHOOK_ALLOWED_SCOPES", _scope_list, ""),
            enrichment_margin=reader.get("ENRICHMENT_MARGIN_MINUTES", _minutes(0, 360), "15"),
        )
        if settings.webhook_auth == "entra":
            for name, value in (("WEBHOOK_TENANT_ID", settings.webhook_tenant_id),
                                ("WEBHOOK_AUDIENCE", settings.webhook_audiences)):
                if not value:
                    reader.problem(f"{name} is required when WEBHOOK_AUTH=entra")
        if settings.credential_kind == "managed-identity" and not settings.credential_client_id:
            reader.problem("AZURE_CLIENT_ID is required when AZURE_CREDENTIAL=managed-identity (its client id)")
        reader.raise_if_invalid()
        return settings


# Read by the Functions host, not by this module, but still part of the contract (sample file, Bicep).
HOST_SETTINGS = (
    "AzureWebJobsStorage",
    "FUNCTIONS_WORKER_RUNTIME",
    "RUN_FAILURES_SCHEDULE",
    "COMPUTE_CHANGES_SCHEDULE",
    "METRICS_SCHEDULE",
    "OUTBOX_SCHEDULE",
)
SETTINGS = (
    "LOG_ANALYTICS_WORKSPACE_IDS",
    "LOG_ANALYTICS_ENDPOINT",
    "METRICS_ENDPOINT",
    "METRICS_REGION",
    "ACS_ENDPOINT",
    "EMAIL_SENDER",
    "EMAIL_RECIPIENTS",
    "AZURE_CREDENTIAL",
    "AZURE_CLIENT_ID",
    "STUDIO_TENANT_ID",
    "SCAN_OVERLAP_MINUTES",
    "SCAN_LOOKBACK_HOURS",
    "FIRST_SCAN_LOOKBACK_MINUTES",
    "GROUP_WAIT_SECONDS",
    "SEND_MAX_ATTEMPTS",
    "SEND_RETRY_BASE_SECONDS",
    "RETENTION_DAYS",
    "RULES_FILE",
    "WEBHOOK_AUTH",
    "WEBHOOK_AUDIENCE",
    "WEBHOOK_TENANT_ID",
    "WEBHOOK_ALLOWED_SCOPES",
    "ENRICHMENT_MARGIN_MINUTES",
)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._problems: list[str] = []

    def get(self, name: str, parse: Callable[[str], Any], default: str | None = None) -> Any:
        raw = self._env.get(name, "").strip()
        if not raw:
            if default is None:
                self._problems.append(f"{name} is not set ({_EXPECTED.get(parse, 'a value')} expected)")
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
            return StateStorage(table_endpoint=f"https://{account}.table.core.windows.net")
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


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]


def _guid_list(raw: str) -> tuple[str, ...]:
    ids = _split(raw)
    bad = [value for value in ids if not _GUID.match(value)]
    if bad or not ids:
        raise ValueError(f"expected comma-separated workspace GUIDs (the workspace id, not its name), got {bad or raw}")
    return tuple(ids)


def _optional_guid(raw: str) -> str | None:
    if not raw:
        return None
    if not _GUID.match(raw):
        raise ValueError("expected a GUID")
    return raw


def _audience_list(raw: str) -> tuple[str, ...]:
    """The app registration's application id URI and/or client id: v1 tokens carry the URI, v2 tokens the id."""
    audiences = _split(raw)
    bad = [value for value in audiences if not (_GUID.match(value) or re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value))]
    if bad:
        raise ValueError(f"expected the application id URI (api://...) and/or the client id (a GUID), got {bad}")
    return tuple(audiences)


def _scope_list(raw: str) -> tuple[str, ...]:
    """Subscription GUIDs or resource id prefixes (/subscriptions/<guid>/resourceGroups/...), lower-cased."""
    scopes = []
    for value in _split(raw):
        if _GUID.match(value):
            scopes.append(f"/subscriptions/{value.lower()}")
        elif re.match(r"^/subscriptions/[0-9a-fA-F-]{36}(/[^/\s]+)*$", value.rstrip("/")):
            scopes.append(value.rstrip("/").lower())
        else:
            raise ValueError(f"expected subscription ids or resource id prefixes (/subscriptions/...), got {value!r}")
    return tuple(scopes)


def _https_url(raw: str) -> str | None:
    if not raw:
        return None
    if not re.match(r"^https://[^\s/]+", raw):
        raise ValueError("expected an https:// URL")
    return raw.rstrip("/")


def _metrics_endpoint(raw: str) -> tuple[str, str | None]:
    """The regional endpoint template, and the region of an older single-region value
    (https://westeurope.metrics.monitor.azure.com reads as the template and its region)."""
    url = _https_url(raw) or ""
    if "{region}" not in url:
        host = urlsplit(url).hostname or ""
        region, _, cloud = host.partition(".")
        if not cloud.startswith("metrics.monitor.") or not _REGION.match(region):
            raise ValueError("expected an endpoint template with {region}, e.g. " + DEFAULT_METRICS_ENDPOINT)
        return url.replace(f"//{region}.", "//{region}.", 1), region
    if re.search(r"[{}]", url.replace("{region}", "")):
        raise ValueError("expected {region} as the only placeholder")
    return url, None


def _optional_region(raw: str) -> str | None:
    if raw and not _REGION.match(raw.lower()):
        raise ValueError("expected an Azure region name such as westeurope (not 'West Europe')")
    return raw.lower() or None


def _email(raw: str) -> str:
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", raw):
        raise ValueError("expected an email address such as DoNotReply@contoso.com")
    return raw


def _email_list(raw: str) -> tuple[str, ...]:
    return tuple(_email(address) for address in _split(raw))


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _duration(unit: str, low: int, high: int) -> Callable[[str], timedelta]:
    number = _int_range(low, high)

    def parse(raw: str) -> timedelta:
        return timedelta(**{unit: number(raw)})

    return parse


def _seconds(low: int, high: int) -> Callable[[str], timedelta]:
    return _duration("seconds", low, high)


def _minutes(low: int, high: int) -> Callable[[str], timedelta]:
    return _duration("minutes", low, high)


def _hours(low: int, high: int) -> Callable[[str], timedelta]:
    return _duration("hours", low, high)


def _days(low: int, high: int) -> Callable[[str], timedelta]:
    return _duration("days", low, high)


# shared/credentials.py says what each one means.
_CREDENTIAL_KINDS = _one_of("managed-identity", "default", "emulator")

_EXPECTED: dict[Any, str] = {
    _guid_list: "comma-separated Log Analytics workspace GUIDs",
    _https_url: "an https:// URL",
    _email: "an email address",
    _email_list: "comma-separated email addresses",
}
