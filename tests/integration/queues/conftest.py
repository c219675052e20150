"""The queue path end to end: Azurite's table and queue services, the sandbox, function_app's real functions, and
the local host loop (sandbox/queue_host.py) in place of the Functions host's queue listener."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.azurite import AzuriteNotAvailable, azurite_storage, empty_storage
from sandbox.queue_host import QueueHost
from tests.integration.conftest import exported


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
    empty_storage(queue_storage)
    values = sandbox.app_settings(queue_storage, GROUP_WAIT_SECONDS="0", SEND_RETRY_BASE_SECONDS="1")
    yield from exported(monkeypatch, values)


@pytest.fixture
def host(queued_settings, queue_storage: str) -> QueueHost:
    """The host loop over function_app's queue functions: one message at a time, a failed one shown again at once
    (host.json says 30 s; the tests do not wait), a dead host's lock 1 s."""
    from datetime import timedelta

    return QueueHost(queue_storage, visibility=timedelta(0), lock=timedelta(seconds=1))
