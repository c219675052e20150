"""Shared fixtures: a real Table Storage emulator (Azurite) for the whole session, emptied before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.azurite import AzuriteNotAvailable, azurite_tables


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    try:
        with azurite_tables() as connection_string:
            yield connection_string
    except AzuriteNotAvailable as err:
        pytest.fail(str(err))


@dataclass(frozen=True)
class Stores:
    """The app's stores over one Azurite account, each owning its tables."""

    tables: Any
    incidents: Any
    scans: Any
    deliveries: Any
    silences: Any
    metric_states: Any


@pytest.fixture
def state(azurite_connection_string: str) -> Stores:
    """Fresh, empty state tables in Azurite for one test, and the stores over them."""
    from azure.data.tables import TableServiceClient

    from shared.app import TABLES
    from shared.azure.tables import Tables
    from shared.outbox.store import IncidentStore
    from shared.scans.metric_states import MetricStates
    from shared.scans.state import ScanState
    from shared.silences import SilenceStore
    from shared.webhook.deliveries import WebhookDeliveries

    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for table in service.list_tables():
        service.delete_table(table.name)
    tables = Tables(service, TABLES)
    return Stores(
        tables,
        IncidentStore(tables),
        ScanState(tables),
        WebhookDeliveries(tables),
        SilenceStore(tables),
        MetricStates(tables),
    )


@pytest.fixture(autouse=True)
def _no_ambient_azure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's exported variables must not leak in."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "ACS_", "LOG_ANALYTICS_", "AzureWebJobs")):
            monkeypatch.delenv(name, raising=False)
