"""Every stored property of an incident is bounded by construction, whatever the incident holds."""

from __future__ import annotations

import json
import random
import string
import zlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import entity_bounds, outbox
from shared.email_render import render_incident
from shared.entity_bounds import (
    KEY_CHARS,
    MINIMAL,
    PAYLOAD_BYTES,
    REDUCED,
    TEXT_UNITS,
    bounded_key,
    bounded_text,
    entity_size,
    fit_payload,
    utf16_units,
)
from shared.state_tables import _entity

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENTITY_LIMIT = 2**20
texts = st.text(st.characters(codec="utf-8"), max_size=60)  # includes characters outside the BMP (2 units)


def _noise(chars: int, seed: int = 1) -> str:
    """Incompressible text: what defeats compression is what makes a payload large."""
    return "".join(random.Random(seed).choices(string.printable, k=chars))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.text(min_size=1, max_size=3).map(lambda s: "run-failure:" + s * 4000),
       label=texts.map(lambda s: s * 3000), recipients=st.integers(0, 6000),
       noise=st.integers(0, 200_000), items=st.integers(0, 6000), error=texts.map(lambda s: s * 5000))
def test_any_incident_fits_the_service_limits(key, label, recipients, noise, items, error):
    payload = {"errors": [_noise(noise // max(items, 1) + 1, i) for i in range(min(items, 300))],
               "runs": [f"run-{i}" for i in range(items)], "alert": {"rule": label}}
    record = outbox.new_record(key, "run-failure", payload,
                               tuple(f"person{i}@contoso.com" for i in range(recipients)), NOW, NOW,
                               labels={"kind": "run-failure", "workspace": label, "experiment": label})
    record = outbox.after_failure(record, NOW, error, outbox.RetryPolicy())
    entity = _entity(record)
    for name, value in entity.items():
        if isinstance(value, str):
            assert utf16_units(value) <= TEXT_UNITS, name
        if isinstance(value, bytes):
            assert len(value) <= PAYLOAD_BYTES, name
    assert len(entity["Key"]) <= KEY_CHARS
    assert entity_size(entity) < ENTITY_LIMIT / 4  # far below 1 MiB, by construction
    assert json.loads(zlib.decompress(entity["Payload"])) == record.payload  # what is stored is the record


def test_details_over_the_limit_are_shortened_deterministically_and_say_so():
    payload = {"downstream": [{"error": _noise(2000, i)} for i in range(49)], "pipeline_run_id": "p1"}
    shortened, blob = fit_payload(payload)
    assert len(blob) <= PAYLOAD_BYTES < len(entity_bounds.compress(payload))
    assert shortened["pipeline_run_id"] == "p1" and "64 KiB" in shortened[REDUCED]
    assert fit_payload(payload) == (shortened, blob)  # the same every time: detecting it again changes nothing
    assert fit_payload(shortened)[0] == shortened  # and shortening what was shortened keeps it


def test_details_that_cannot_be_shortened_enough_leave_the_minimal_form():
    payload = {f"key-{i}-{_noise(40, i)}": i for i in range(20_000)}  # many keys: nothing to cut
    record = outbox.new_record("run-failure:ws:p", "run-failure", payload, (), NOW, NOW,
                               labels={"workspace": "ws"})
    assert set(record.payload) == {MINIMAL}
    email = render_incident("run-failure", record.payload)
    assert email.subject == "[AML] run-failure:ws:p (details could not be stored)"
    assert "Workspace:     ws" in email.text


def test_long_keys_stay_distinct_and_bound_the_same_way_every_time():
    one, two = "run-failure:ws:" + "a" * 2000, "run-failure:ws:" + "a" * 1999 + "b"
    assert len(bounded_key(one)) == KEY_CHARS and bounded_key(one) != bounded_key(two)
    assert bounded_key(bounded_key(one)) == bounded_key(one)
    assert bounded_key("run-failure:ws:p1") == "run-failure:ws:p1"


def test_text_is_cut_in_utf16_units_without_splitting_a_character():
    text = "😀" * 40_000  # each is two UTF-16 units
    cut = bounded_text(text)
    assert utf16_units(cut) <= TEXT_UNITS and cut.endswith("characters, cut]")
    assert bounded_text("short") == "short"


def test_entity_size_follows_the_services_formula():
    entity = {"PartitionKey": "ab", "RowKey": "c", "S": "xy", "B": b"123", "I": 7, "T": NOW, "F": True}
    # 4 + keys 2*3 + S (8+2+4+4) + B (8+2+3+4) + I (8+2+8) + T (8+2+8) + F (8+2+1)
    assert entity_size(entity) == 4 + 6 + 18 + 17 + 18 + 18 + 11
