"""Teams destinations: named Workflows webhook URLs from app settings (pure).

A deployment names each Teams channel it posts to with one setting, `TEAMS_WEBHOOK_<NAME>`, holding the URL of
a Workflows webhook ("When a Teams webhook request is received", the successor of the retired Office 365
connectors). In Azure the value is a Key Vault reference (`@Microsoft.KeyVault(SecretUri=...)`) that App Service
resolves before the app reads it. Routes refer to the destination by `<name>`: lower case, `_` written `-`
(`TEAMS_WEBHOOK_ML_ONCALL` is `ml-oncall`).

The URL carries its own authorisation, the `sig=` query parameter: whoever has it can post to the channel. It is
a secret: `TeamsDestination` keeps it out of its repr, and every error here names the setting, never the URL.

Accepted URLs: https, port 443, a `sig`, on the hosts the Workflows app hands out (see `WORKFLOWS_HOSTS`), or on
loopback when the caller allows it (the local sandbox: `AZURE_CREDENTIAL=emulator`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

SETTING_PREFIX = "TEAMS_WEBHOOK_"
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SETTING_SUFFIX = re.compile(r"^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$")

# Hosts of Workflows webhook URLs, a URL's host being one of these or a subdomain:
# - <env>.environment.api.powerplatform.com: what the Workflows app in Teams hands out now
#   (path /powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke);
# - prod-NN.<region>.logic.azure.com: Workflows URLs created before (path /workflows/<id>/triggers/...);
# - api.powerautomate.com, flow.microsoft.com: listed with the two above by Argo CD's "Teams Workflows" docs
#   (../shared/reference/teams.md).
# Argo CD also accepts any host with "/powerautomate/" in the path; not here: a path proves nothing about who
# receives the card.
WORKFLOWS_HOSTS = ("api.powerplatform.com", "logic.azure.com", "api.powerautomate.com", "flow.microsoft.com")
# The retired Office 365 connector ("Incoming Webhook") URLs: refused with directions, not as unknown hosts.
_CONNECTOR_HOSTS = ("webhook.office.com", "outlook.office.com", "outlook.office365.com")


class TeamsSettingsError(ValueError):
    """One or more Teams settings are invalid; the message names each setting and never shows a URL."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid Teams settings:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TeamsDestination:
    """A Teams channel's Workflows webhook. `url` is a secret: not in repr, not in errors, not in tables."""

    name: str
    setting: str
    url: str = field(repr=False)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def setting_name(destination: str) -> str:
    """`ml-oncall` -> `TEAMS_WEBHOOK_ML_ONCALL`: where the URL of a destination named in a route lives."""
    if not _NAME.fullmatch(destination):
        raise ValueError(
            f"{destination!r} is not a Teams destination name: lower-case letters, digits and "
            "single hyphens, e.g. ml-oncall"
        )
    return SETTING_PREFIX + destination.upper().replace("-", "_")


def teams_destinations(environ: Mapping[str, str], *, allow_loopback: bool = False) -> dict[str, TeamsDestination]:
    """Every `TEAMS_WEBHOOK_<NAME>` setting as a destination, by name. Raises TeamsSettingsError listing each
    bad setting (name, what is wrong); `allow_loopback` admits https URLs on 127.0.0.0/8, ::1 and localhost."""
    destinations: dict[str, TeamsDestination] = {}
    problems: list[str] = []
    for setting in sorted(environ):
        if not setting.upper().startswith(SETTING_PREFIX):
            continue
        suffix = setting[len(SETTING_PREFIX) :]
        if not _SETTING_SUFFIX.fullmatch(suffix):
            problems.append(
                f"{setting}: the name after {SETTING_PREFIX} must be letters and digits in words "
                "joined by single underscores, e.g. TEAMS_WEBHOOK_ML_ONCALL"
            )
            continue
        name = suffix.lower().replace("_", "-")
        problem = webhook_url_problem(environ[setting], allow_loopback=allow_loopback)
        if problem:
            problems.append(f"{setting}: {problem}")
        elif name in destinations:
            problems.append(f"{setting}: destination {name!r} is also set by {destinations[name].setting}")
        else:
            destinations[name] = TeamsDestination(name, setting, environ[setting].strip())
    if problems:
        raise TeamsSettingsError(problems)
    return destinations


def webhook_url_problem(value: str, *, allow_loopback: bool = False) -> str | None:
    """What is wrong with a Workflows webhook URL, or None. The answer never contains the URL (it is a secret);
    it may name the host, which is not."""
    value = (value or "").strip()
    if not value:
        return "is empty: set it to the URL of the channel's Workflows webhook"
    if value.startswith("@Microsoft.KeyVault("):
        return (
            "is an unresolved Key Vault reference: the Function App's identity cannot read the secret "
            "(check its Key Vault Secrets User role and the reference's status in the portal)"
        )
    try:
        url = urlsplit(value)
        host, port = (url.hostname or "").lower(), url.port
    except ValueError:
        return "is not a URL"
    problem = _form_problem(url.scheme, url.username, url.password, url.fragment) or _host_problem(
        host, port, allow_loopback=allow_loopback
    )
    if problem:
        return problem
    if not parse_qs(url.query).get("sig", [""])[0]:
        return "has no sig= parameter: copy the whole URL from the Workflows trigger, signature included"
    return None


def _form_problem(scheme: str, username: str | None, password: str | None, fragment: str) -> str | None:
    if scheme != "https":
        return "must be an https URL"
    if username is not None or password is not None or fragment:
        return "must not carry a user name, password or #fragment"
    return None


def _host_problem(host: str, port: int | None, *, allow_loopback: bool) -> str | None:
    if _is_loopback(host):
        return None if allow_loopback else f"points at {host}, which only the local sandbox may use"
    if any(_within(host, connector) for connector in _CONNECTOR_HOSTS):
        return (
            f"is an Office 365 connector URL ({host}): connectors are retired; create a Workflows webhook "
            "(channel > Workflows > 'Send webhook alerts to a channel') and use its URL"
        )
    if not any(_within(host, allowed) for allowed in WORKFLOWS_HOSTS):
        return f"is on {host or 'no host'}, not a Workflows webhook host ({', '.join(WORKFLOWS_HOSTS)})"
    if port not in (None, 443):
        return f"must use the https port 443, not {port}"
    return None


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
