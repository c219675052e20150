"""The queue path end to end: Azurite's table and queue services, the sandbox, function_app's real functions, and
the local host loop (sandbox/queue_host.py) in place of the Functions host's queue listener."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from sandbox.azurite import AzuriteNotAvailable, azurite_storage
from sandbox.queue_host import QueueHost
from shared.entrypoints import alerting_app


@pytest.fixture(scope="session")
def queue_storage() -> Iterator[str]:
    try:
        with azurite_storage() as connection_string:
            yield connection_string
    except AzuriteNotAvailable as err:
        pytest.fail(str(err))


@pytest.fixture
def queued_settings(monkeypatch: pytest.MonkeyPatch, sandbox, queue_storage: str):
    """App settings over a storage account with queues; its tables and queues emptied first."""
    tables = TableServiceClient.from_connection_string(queue_storage)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    queues = QueueServiceClient.from_connection_string(queue_storage)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)
    values = sandbox.app_settings(queue_storage, GROUP_WAIT_SECONDS="0", SEND_RETRY_BASE_SECONDS="1")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    alerting_app.cache_clear()
    yield values
    alerting_app.cache_clear()


@pytest.fixture
def host(queued_settings, queue_storage: str) -> QueueHost:
    """The host loop over function_app's queue functions: one message at a time, a failed one shown again at once
    (host.json says 30 s; the tests do not wait), a dead host's lock 1 s."""
    from datetime import timedelta

    return QueueHost(queue_storage, visibility=timedelta(0), lock=timedelta(seconds=1))
