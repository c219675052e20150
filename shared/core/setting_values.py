"""Parsers of app-setting values (pure): text in, a typed value out, or a ValueError that says what was expected.
The settings table that uses them, and the names, are in shared/settings.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from shared.core.resource_ids import AML_WORKSPACE, GUID_PATTERN, is_guid, parse_resource_id

_REGION = re.compile(r"^[a-z][a-z0-9]*$")
# The Metrics batch API is regional: one endpoint per region. Sovereign clouds: metrics.monitor.azure.us / .cn.
DEFAULT_METRICS_ENDPOINT = "https://{region}.metrics.monitor.azure.com"


def split(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]


def guid_list(raw: str) -> tuple[str, ...]:
    ids = split(raw)
    bad = [value for value in ids if not is_guid(value)]
    if any(value.lower().startswith("/subscriptions/") for value in bad):
        raise ValueError(
            "that is a resource id; each Log Analytics workspace's Workspace ID (its customer id, a GUID on its "
            "Overview page) is expected"
        )
    if bad or not ids:
        raise ValueError(f"expected comma-separated workspace GUIDs (the workspace id, not its name), got {bad or raw}")
    return tuple(ids)


# NCRONTAB, as the Functions timer trigger reads it: six fields, seconds first.
_CRON_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 6),
)
_CRON_NAMES = re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$", re.I)
_CRON_PART = re.compile(r"^(\*|[0-9a-zA-Z]+(-[0-9a-zA-Z]+)?)(/\d+)?$")


def ncrontab(raw: str) -> str:
    """A timer schedule: `{second} {minute} {hour} {day} {month} {day-of-week}`. A 5-field Unix cron is the
    usual mistake: the message shows it with a seconds field in front."""
    fields = raw.split()
    shape = " ".join("{" + name + "}" for name, _, _ in _CRON_FIELDS)
    if len(fields) == 5:
        raise ValueError(
            f"a 5-field cron; the Functions timer reads NCRONTAB, 6 fields with seconds first ({shape}): "
            f"use {'0 ' + raw.strip()!r}"
        )
    if len(fields) != 6:
        raise ValueError(f"expected NCRONTAB, 6 fields ({shape}), e.g. '0 */5 * * * *' (every 5 minutes)")
    for value, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in value.split(","):
            match = _CRON_PART.match(part)
            numbers = re.findall(r"\d+", match[1]) if match else []
            names_ok = match and all(n.isdigit() or _CRON_NAMES.match(n) for n in re.split("-", match[1]) if n != "*")
            if not match or not names_ok or any(not low <= int(n) <= high for n in numbers):
                raise ValueError(f"{name} field {value!r} is not NCRONTAB ({low}-{high}, *, lists, ranges, */n)")
    return raw.strip()


def optional_guid(raw: str) -> str | None:
    if not raw:
        return None
    if not is_guid(raw):
        raise ValueError("expected a GUID")
    return raw


def audience_list(raw: str) -> tuple[str, ...]:
    """The app registration's application id URI and/or client id: v1 tokens carry the URI, v2 tokens the id."""
    audiences = split(raw)
    bad = [value for value in audiences if not (is_guid(value) or re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value))]
    if bad:
        raise ValueError(f"expected the application id URI (api://...) and/or the client id (a GUID), got {bad}")
    return tuple(audiences)


def scope_list(raw: str) -> tuple[str, ...]:
    """Subscription GUIDs or resource id prefixes (/subscriptions/<guid>/resourceGroups/...), lower-cased."""
    scopes = []
    for value in split(raw):
        if is_guid(value):
            scopes.append(f"/subscriptions/{value.lower()}")
        elif re.match(rf"^/subscriptions/{GUID_PATTERN}(/[^/\s]+)*$", value.rstrip("/")):
            scopes.append(value.rstrip("/").lower())
        else:
            raise ValueError(f"expected subscription ids or resource id prefixes (/subscriptions/...), got {value!r}")
    return tuple(scopes)


def aml_workspace_list(raw: str) -> tuple[str, ...]:
    """Azure ML workspace resource ids (/subscriptions/.../workspaces/<name>); empty: none."""
    ids = split(raw)
    for value in ids:
        parsed = parse_resource_id(value.rstrip("/"))
        if parsed is None or parsed.resource_group is None or not parsed.within(AML_WORKSPACE):
            raise ValueError(
                "expected Azure ML workspace resource ids "
                "(/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.MachineLearningServices/"
                f"workspaces/<name>), got {value!r}"
            )
    return tuple(value.rstrip("/") for value in ids)


def https_url(raw: str) -> str | None:
    if not raw:
        return None
    if not re.match(r"^https://[^\s/]+", raw):
        raise ValueError("expected an https:// URL")
    return raw.rstrip("/")


def metrics_endpoint(raw: str) -> tuple[str, str | None]:
    """The regional endpoint template, and the region of an older single-region value
    (https://westeurope.metrics.monitor.azure.com reads as the template and its region)."""
    url = https_url(raw) or ""
    if "{region}" not in url:
        host = urlsplit(url).hostname or ""
        region, _, cloud = host.partition(".")
        if not cloud.startswith("metrics.monitor.") or not _REGION.match(region):
            raise ValueError("expected an endpoint template with {region}, e.g. " + DEFAULT_METRICS_ENDPOINT)
        return url.replace(f"//{region}.", "//{region}.", 1), region
    if re.search(r"[{}]", url.replace("{region}", "")):
        raise ValueError("expected {region} as the only placeholder")
    return url, None


def optional_region(raw: str) -> str | None:
    if raw and not _REGION.match(raw.lower()):
        raise ValueError("expected an Azure region name such as westeurope (not 'West Europe')")
    return raw.lower() or None


def email(raw: str) -> str:
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", raw):
        raise ValueError("expected an email address such as DoNotReply@contoso.com")
    return raw


def email_list(raw: str) -> tuple[str, ...]:
    return tuple(email(address) for address in split(raw))


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


def int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def duration(unit: str, low: int, high: int) -> Callable[[str], timedelta]:
    number = int_range(low, high)

    def parse(raw: str) -> timedelta:
        return timedelta(**{unit: number(raw)})

    return parse


def flag(raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return raw.lower() == "true"


def host_suffixes(raw: str) -> tuple[str, ...]:
    """Extra hosts (or .suffixes) a client may call beyond Azure's own, e.g. the sandbox's `127.0.0.1:8443`."""
    hosts = split(raw)
    bad = [host for host in hosts if not re.fullmatch(r"\.?[A-Za-z0-9.-]+(?::\d+)?", host)]
    if bad:
        raise ValueError(f"expected comma-separated host names, got {bad}")
    return tuple(hosts)


# shared/azure/credentials.py says what each one means.
CREDENTIAL_KINDS = one_of("managed-identity", "default", "emulator")

EXPECTED: dict[Any, str] = {
    guid_list: "comma-separated Log Analytics workspace GUIDs",
    https_url: "an https:// URL",
    email: "an email address",
    email_list: "comma-separated email addresses",
}
