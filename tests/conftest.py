"""Shared fixtures: a real Table Storage emulator (Azurite) for the whole session, emptied before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.azurite import AzuriteNotAvailable, azurite_tables


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    try:
        with azurite_tables() as connection_string:
            yield connection_string
    except AzuriteNotAvailable as err:
        pytest.fail(str(err))


@pytest.fixture
def state(azurite_connection_string: str):
    """Fresh, empty state tables in Azurite for one test."""
    from azure.data.tables import TableServiceClient

    from shared.state_tables import StateTables

    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for table in service.list_tables():
        service.delete_table(table.name)
    return StateTables(service)


@pytest.fixture(autouse=True)
def _no_ambient_azure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's exported variables must not leak in."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "ACS_", "LOG_ANALYTICS_", "AzureWebJobs")):
            monkeypatch.delenv(name, raising=False)
