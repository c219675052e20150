"""Azurite, the real Table and Queue Storage emulator (npm `azurite`), started on free loopback ports for tests, the
demo, the simulation and the benchmarks."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Azurite's published development account key: a documented constant of the emulator, not a secret.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteNotAvailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def azurite_tables(start_timeout: float = 30) -> Iterator[str]:
    """Run an in-memory Azurite table service; yields its connection string (no queue service: the app then sends
    inline, as it did before the queues)."""
    with _service("table", start_timeout) as port:
        yield _connection_string(TableEndpoint=port)


@contextlib.contextmanager
def azurite_storage(start_timeout: float = 30) -> Iterator[str]:
    """Run in-memory Azurite table and queue services; yields one connection string naming both (the demo, the
    simulation, the queue tests and the benchmarks)."""
    with _service("table", start_timeout) as tables, _service("queue", start_timeout) as queues:
        yield _connection_string(TableEndpoint=tables, QueueEndpoint=queues)


def empty_storage(connection_string: str) -> None:
    """Delete every table and queue of an Azurite account (a fresh state between runs without a restart)."""
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)


def _connection_string(**ports: int) -> str:
    endpoints = "".join(f"{name}=http://127.0.0.1:{port}/devstoreaccount1;" for name, port in ports.items())
    return f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};{endpoints}"


@contextlib.contextmanager
def _service(service: str, start_timeout: float) -> Iterator[int]:
    """One Azurite service (`table` or `queue`, started alike) on a free loopback port; yields the port."""
    binary = ROOT / "node_modules" / ".bin" / f"azurite-{service}"
    if not binary.exists():
        raise AzuriteNotAvailable("Azurite is not installed: run `npm ci` (make test and make demo do it)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        process = subprocess.Popen(
            [
                str(binary),
                "--inMemoryPersistence",
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                f"--{service}Host",
                "127.0.0.1",
                f"--{service}Port",
                str(port),
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(port, process, start_timeout)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise AzuriteNotAvailable(f"Azurite did not start on port {port}: {stderr.strip()}") from None
            time.sleep(0.1)
