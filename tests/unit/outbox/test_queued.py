"""The notifications queue's message format: parsing and the size of what is put (no Azure call)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.outbox.queued import BUCKET, MESSAGE_BYTES, BadMessage, _chunks, parse_keys, wake_ups

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_keys_are_packed_into_as_few_messages_as_fit_the_service_limit():
    keys = [f"run-failure:ws-{i % 5}:pipe{i:05d}" for i in range(5000)]
    chunks = _chunks(keys)
    assert [key for chunk in chunks for key in chunk] == keys
    assert len(chunks) == 4  # 29 bytes a key in JSON: 1,551 keys a message
    for chunk in chunks:
        encoded = base64.b64encode(json.dumps({"keys": chunk}, separators=(",", ":")).encode())
        assert len(encoded) <= 64 * 1024 and len(json.dumps(chunk, separators=(",", ":"))) <= MESSAGE_BYTES + 2


def test_a_message_must_name_keys():
    assert parse_keys(b'{"keys": ["a", "b"]}') == ["a", "b"]
    for body in (b"", b"[]", b'{"keys": []}', b'{"keys": "a"}', b'{"keys": [1]}', b'{"keys": [""]}', b"\xff"):
        with pytest.raises(BadMessage):
            parse_keys(body)


def test_what_is_due_shares_one_message_and_a_storm_coming_due_seconds_apart_shares_a_few():
    overdue = {f"run-failure:ws:old{i}": NOW - timedelta(minutes=40, seconds=i) for i in range(1000)}
    assert wake_ups(overdue, NOW) == [(max(overdue.values()) - NOW, sorted(overdue, key=list(overdue).index))]
    storm = {f"run-failure:ws:new{i}": NOW + timedelta(seconds=2 * i + 1) for i in range(60)}  # over two minutes
    messages = wake_ups(storm, NOW)
    assert len(messages) == 4  # one per 30 s of due times, not one per second
    for delay, keys in messages:
        assert max(storm[key] for key in keys) - NOW == delay  # shown when the last of them is due
        assert delay - min(storm[key] - NOW for key in keys) < BUCKET  # and no key waits a bucket past its due time
