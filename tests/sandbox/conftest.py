"""Fixtures: a started sandbox with a fixed clock and the app's real SDK clients pointed at it."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.communication.email import EmailClient
from azure.core.credentials import AccessToken
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient

from sandbox import Sandbox
from sandbox.metrics import DEFAULT_REGION, endpoint_template

CLOCK = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
FAR_FUTURE = 4_102_444_800  # 2100-01-01


class StaticCredential:
    """A TokenCredential with a fixed token: the sandbox only checks that a bearer token is present.
    azure-core's BearerTokenCredentialPolicy uses get_token when get_token_info is absent."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("sandbox", FAR_FUTURE)


@pytest.fixture
def sb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(now=CLOCK) as sandbox:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_bundle)
        yield sandbox


@pytest.fixture
def clock() -> datetime:
    """The sandbox's time when a test starts."""
    return CLOCK


@pytest.fixture
def t0() -> datetime:
    """When the seeded pipeline runs start: two hours before the clock."""
    return CLOCK - timedelta(hours=2)


@pytest.fixture
def credential() -> StaticCredential:
    return StaticCredential()


@pytest.fixture
def logs(sb: Sandbox, credential: StaticCredential) -> LogsQueryClient:
    return LogsQueryClient(credential, endpoint=sb.endpoint, retry_total=0)


@pytest.fixture
def metrics(sb: Sandbox, credential: StaticCredential) -> MetricsClient:
    """The regional endpoint of the sandbox's default region."""
    return MetricsClient(endpoint_template(sb.endpoint).format(region=DEFAULT_REGION), credential, retry_total=0)


@pytest.fixture
def email(sb: Sandbox, credential: StaticCredential) -> EmailClient:
    return EmailClient(sb.endpoint, credential, retry_total=0)


RawCall = Callable[..., tuple[int, Any]]


@pytest.fixture
def raw(sb: Sandbox) -> RawCall:
    """Plain HTTPS without an SDK, for the control API and for what the SDKs never send (no token)."""

    def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - https only
            f"{sb.endpoint}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        context = ssl.create_default_context(cafile=sb.ca_bundle)
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return call
