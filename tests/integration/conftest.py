"""The local stack for integration tests: Azurite (state) + the sandbox (Log Analytics, Metrics, ACS Email),
reached by the app's real SDK clients over HTTP(S), configured only through app settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.emulator import LOCAL_RECIPIENT
from shared.app import AlertingApp
from shared.entrypoints import alerting_app
from shared.settings import Settings

RECIPIENT = LOCAL_RECIPIENT


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """Empty, with its clock back at the wall clock (the timer functions read the real time)."""
    sandbox_server.reset()
    sandbox_server.set_clock(datetime.now(UTC).replace(microsecond=0))
    return sandbox_server


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, state, azurite_connection_string: str):
    """App settings pointing at the local stack, exported as the Functions host would."""
    values = sandbox.app_settings(
        azurite_connection_string, GROUP_WAIT_SECONDS="120", SEND_RETRY_BASE_SECONDS="60", SEND_MAX_ATTEMPTS="4"
    )
    yield from exported(monkeypatch, values)


def exported(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> Iterator[dict[str, str]]:
    """Export app settings as the Functions host would, for one test; the app built from them is dropped after."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    alerting_app.cache_clear()
    yield values
    alerting_app.cache_clear()


@pytest.fixture
def make_app(app_settings):
    """A new app instance per call: two of them behave like two Function App instances."""
    return lambda: AlertingApp(Settings.from_environ())


@pytest.fixture
def rules(tmp_path, monkeypatch):
    """Write a rules file and point RULES_FILE at it."""

    def write(text: str) -> Path:
        path = tmp_path / "rules.yaml"
        path.write_text(text)
        monkeypatch.setenv("RULES_FILE", str(path))
        return path

    return write
