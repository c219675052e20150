"""The notifications queue's message format: parsing and the size of what is put (no Azure call)."""

from __future__ import annotations

import base64
import json

import pytest

from shared.outbox.queued import MESSAGE_BYTES, BadMessage, _chunks, parse_keys


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
