"""The webhook's delivery claims in Azurite: claim, release, lease and take-over are compare-and-swaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=20)
KEY = "alert:0123456789abcdef0123456789abcdef:Fired"


def test_a_released_claim_can_be_claimed_again_at_once(state):
    first = state.begin_delivery(KEY, NOW, LEASE)
    assert (first.status, first.lease_until) == ("new", NOW + LEASE) and first.etag
    assert state.begin_delivery(KEY, NOW + timedelta(seconds=5), LEASE).status == "in-progress"
    assert state.release_delivery(KEY, first)
    assert state.begin_delivery(KEY, NOW + timedelta(seconds=5), LEASE).status == "new"


def test_an_unreleased_claim_is_held_until_its_lease_ends_then_taken_over_once(state):
    first = state.begin_delivery(KEY, NOW, LEASE)
    held = state.begin_delivery(KEY, NOW + timedelta(seconds=5), LEASE)
    assert (held.status, held.lease_until) == ("in-progress", NOW + LEASE)
    later = NOW + timedelta(seconds=25)
    taken = state.begin_delivery(KEY, later, LEASE)
    assert (taken.status, taken.lease_until) == ("new", later + LEASE)
    assert state.begin_delivery(KEY, later, LEASE).status == "in-progress"  # only one copy takes it over
    assert not state.release_delivery(KEY, first)  # the first copy cannot release the new owner's claim
    state.finish_delivery(KEY, ["alert:x"], later)
    assert state.begin_delivery(KEY, later + timedelta(hours=1), LEASE).status == "duplicate"
