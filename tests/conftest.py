"""Shared fixtures: a real Table Storage emulator (Azurite) for the whole session, emptied before each test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Azurite's published development account key: a documented constant of the emulator, not a secret.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def azurite_connection_string(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = ROOT / "node_modules" / ".bin" / "azurite-table"
    if not binary.exists():
        pytest.fail("Azurite is not installed: run `npm ci` (make test does it)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [str(binary), "--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry",
         "--tableHost", "127.0.0.1", "--tablePort", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Azurite did not start: {process.stderr.read().decode(errors='replace')}")
            time.sleep(0.1)
    yield (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


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
