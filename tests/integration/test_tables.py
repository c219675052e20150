"""The shared Table plumbing under concurrency, against Azurite: one client per table, made once and reused.

`TableServiceClient.get_table_client` builds a new azure-core pipeline over policy objects shared with every other
client of the account and re-links them; calling it per operation from several threads raced (seen once under 8
threads: `'_SansIOHTTPPolicyRunner' object has no attribute 'next'`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from azure.data.tables import TableServiceClient

from shared.app import TABLES
from shared.azure.tables import Tables
from shared.outbox import records as outbox
from shared.outbox.store import IncidentStore
from shared.scans.state import ScanState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_each_table_has_one_client_made_once(azurite_connection_string):
    tables = Tables(TableServiceClient.from_connection_string(azurite_connection_string), TABLES)
    assert all(tables.table(name) is tables.table(name) for name in TABLES)


def test_many_threads_through_one_account_all_succeed(state, azurite_connection_string):
    tables = Tables(TableServiceClient.from_connection_string(azurite_connection_string), TABLES)  # not ensured yet
    incidents, scans = IncidentStore(tables), ScanState(tables)

    def work(i: int) -> bool:
        record = outbox.new_record(f"run-failure:ws:{i}", "run-failure", {"i": i}, (), NOW, NOW)
        scans.set_watermark("run-failures", f"ws-{i % 4}", NOW + timedelta(seconds=i))
        created = incidents.create(record)
        scans.record_scan("run-failures", f"ws-{i % 4}", NOW, Rows=i)
        return created and incidents.get(record.key) is not None and scans.get_watermark("run-failures", "ws-0")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(work, range(200)))
    assert all(results)
    assert len(incidents.records()) == 200
