"""The incident store's compare-and-swap transitions against the real Table Storage emulator (Azurite)."""

from __future__ import annotations

import random
import string
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from shared.outbox import records as outbox
from shared.outbox.records import RetryPolicy, Status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _record(key: str = "run-failure:ws:pipe-1", **payload) -> outbox.OutboxRecord:
    return outbox.new_record(key, "run-failure", {"step": "train", **payload}, ("oncall@contoso.com",), NOW, NOW)


def test_claim_is_insert_if_absent(state):
    assert state.incidents.create(_record()) is True
    assert state.incidents.create(_record(step="other")) is False
    stored = state.incidents.get("run-failure:ws:pipe-1")
    assert stored.payload == {"step": "train"}
    assert stored.status is Status.PENDING
    assert stored.recipients == ("oncall@contoso.com",)
    assert stored.due_at == NOW


def test_concurrent_claims_have_exactly_one_winner(state):
    state.tables.ensure()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: state.incidents.create(_record(attempt=i)), range(8)))
    assert results.count(True) == 1


def test_stale_etag_loses_the_lease(state):
    state.incidents.create(_record())
    first = state.incidents.get("run-failure:ws:pipe-1")
    second = state.incidents.get("run-failure:ws:pipe-1")
    policy = RetryPolicy()
    assert state.incidents.replace(outbox.start_attempt(first, NOW, policy)) is not None
    assert state.incidents.replace(outbox.start_attempt(second, NOW, policy)) is None
    assert state.incidents.get("run-failure:ws:pipe-1").attempts == 1


def test_due_incidents_lists_pending_and_expired_leases_only(state):
    policy = RetryPolicy()
    state.incidents.create(_record("run-failure:ws:due"))
    later = NOW + timedelta(hours=1)
    state.incidents.create(outbox.new_record("run-failure:ws:later", "run-failure", {}, (), NOW, later))
    state.incidents.create(_record("run-failure:ws:sent"))
    sent = state.incidents.get("run-failure:ws:sent")
    state.incidents.replace(outbox.after_success(sent, NOW))
    assert [r.key for r in state.incidents.due(NOW)] == ["run-failure:ws:due"]
    leased = state.incidents.replace(outbox.start_attempt(state.incidents.get("run-failure:ws:due"), NOW, policy))
    assert state.incidents.due(NOW) == []
    assert [r.key for r in state.incidents.due(leased.due_at)] == ["run-failure:ws:due"]


def test_in_flight_records_of_named_keys_are_read_by_key_or_by_kind_whichever_is_fewer_round_trips(state):
    keys = [f"run-failure:ws:pipe-{i:03d}" for i in range(40)]
    state.incidents.create_batch([_record(key) for key in keys])
    state.incidents.create(_record("run-failure:ws:not-named"))
    state.incidents.replace(outbox.after_success(state.incidents.get(keys[0]), NOW))
    in_flight = set(keys[1:])
    assert set(state.incidents.get_in_flight(keys)) == in_flight  # 40 keys: one query of the kind
    assert set(state.incidents.get_in_flight([*keys[:3], "run-failure:ws:none"])) == set(keys[1:3])  # by key


def test_watermark_round_trip_and_keys_with_unsafe_characters(state):
    assert state.scans.get_watermark("run-failures", "ws/with#odd?chars") is None
    state.scans.set_watermark("run-failures", "ws/with#odd?chars", NOW)
    assert state.scans.get_watermark("run-failures", "ws/with#odd?chars") == NOW


def test_retention_deletes_only_finished_old_rows_in_batches(state):
    old = NOW - timedelta(days=40)
    for i in range(130):
        record = outbox.new_record(f"run-failure:ws:{i}", "run-failure", {}, (), old, old)
        state.incidents.create(outbox.after_success(record, old) if i < 120 else record)
    state.scans.record_scan("run-failures", "ws", old, Rows=1)
    cutoff = NOW - timedelta(days=30)
    assert state.incidents.delete_older_than(cutoff) + state.scans.delete_older_than(cutoff) == 121
    assert len(state.incidents.records()) == 10
    assert all(r.status is Status.PENDING for r in state.incidents.records())


def test_batch_claims_are_all_or_nothing_per_batch(state):
    records = [_record(f"run-failure:ws:pipe-{i:03d}") for i in range(150)]
    assert state.incidents.create_batch(records[:120]) == [True] * 120  # two batches: 100 + 20
    # 100..149: the first batch holds 100..119 (already claimed), so all of it is refused; 20 more are new.
    results = state.incidents.create_batch(records[100:])
    assert results[:50] == [None] * 50
    assert len(state.incidents.get_many([r.key for r in records])) == 120
    assert set(state.incidents.get_many(["run-failure:ws:pipe-005", "run-failure:ws:none"])) == {
        "run-failure:ws:pipe-005"
    }


def test_batch_leases_drop_only_the_record_someone_else_changed(state):
    policy = RetryPolicy()
    keys = [f"run-failure:ws:pipe-{i:03d}" for i in range(30)]
    state.incidents.create_batch([_record(key) for key in keys])
    read = [state.incidents.get(key) for key in keys]
    state.incidents.replace(outbox.start_attempt(read[7], NOW, policy))  # another instance leased pipe-007 first
    leases = state.incidents.replace_batch([outbox.start_attempt(record, NOW, policy) for record in read])
    assert [lease is None for lease in leases] == [i == 7 for i in range(30)]
    assert all(state.incidents.get(key).status is Status.SENDING for key in keys)
    sent = state.incidents.replace_batch([outbox.after_success(lease, NOW) for lease in leases if lease is not None])
    assert all(sent) and len(state.incidents.records(Status.SENT)) == 29


def test_concurrent_batch_claims_have_exactly_one_winner_each(state):
    state.tables.ensure()
    records = [_record(f"run-failure:ws:pipe-{i:03d}") for i in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: state.incidents.create_batch(records), range(4)))
    assert sum(result == [True] * 40 for result in results) == 1


def _noise(chars: int) -> str:
    return "".join(random.Random(chars).choices(string.printable, k=chars))


def test_a_worst_case_incident_is_stored_and_read_back_as_it_was_made(state):
    labels = {"kind": "run-failure", "workspace": _noise(50_000), "experiment": "😀" * 40_000}
    record = outbox.new_record(
        "run-failure:" + _noise(20_000),
        "run-failure",
        {"errors": [_noise(300_000)]},
        tuple(f"person{i}@contoso.com" for i in range(5_000)),
        NOW,
        NOW,
        labels=labels,
    )
    record = outbox.after_failure(record, NOW, _noise(100_000), RetryPolicy())
    assert state.incidents.create_batch([record]) == [True]  # Azurite refuses any property over 64 KiB
    stored = state.incidents.get(record.key)
    assert (stored.key, stored.payload, stored.labels, stored.recipients) == (
        record.key,
        record.payload,
        record.labels,
        record.recipients,
    )


def test_an_incident_the_service_refuses_does_not_keep_its_batch_from_being_claimed(state, monkeypatch):
    from shared.azure.tables import Refused

    monkeypatch.setattr("shared.azure.entity_bounds.PAYLOAD_BYTES", 10**7)  # as if the bound were wrong
    records = [_record(f"run-failure:ws:pipe-{i}", noise=_noise(150_000) if i == 2 else "") for i in range(5)]
    results = state.incidents.create_batch(records)
    assert [result is True for result in results] == [True, True, False, True, True]
    assert isinstance(results[2], Refused) and "PropertyValueTooLarge" in results[2].error
    assert sorted(state.incidents.get_many([r.key for r in records])) == [r.key for r in records if r.key[-1] != "2"]
