"""The outbox decision table, transition by transition."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared import outbox
from shared.outbox import Detection, RetryPolicy, Status

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=60), max_delay=timedelta(minutes=3))


def _fresh(payload=None, due=NOW):
    return outbox.new_record("run-failure:ws:p", "run-failure", payload or {"steps": 1}, ("a@contoso.com",), NOW, due)


def test_first_detection_claims():
    detection, record = outbox.on_detected(None, _fresh())
    assert detection is Detection.CLAIM
    assert record.status is Status.PENDING


def test_a_pending_incident_that_changed_is_updated_keeping_its_due_time():
    existing = _fresh({"steps": 1}, due=NOW + timedelta(minutes=2))
    detection, record = outbox.on_detected(existing, _fresh({"steps": 2}, due=NOW + timedelta(minutes=5)))
    assert detection is Detection.UPDATE
    assert record.payload == {"steps": 2}
    assert record.due_at == NOW + timedelta(minutes=2)


def test_an_update_keeps_what_another_source_added():
    existing = _fresh({"steps": 1, "alert": {"rule": "Failed Runs"}})
    detection, record = outbox.on_detected(existing, _fresh({"steps": 2}))
    assert detection is Detection.UPDATE
    assert record.payload == {"steps": 2, "alert": {"rule": "Failed Runs"}}
    assert outbox.on_detected(existing, _fresh({"steps": 1})) == (Detection.UNCHANGED, None)


def test_a_settled_update_can_make_it_due_sooner():
    existing = _fresh({"steps": 1}, due=NOW + timedelta(minutes=2))
    _, record = outbox.on_detected(existing, _fresh({"steps": 2}, due=NOW))
    assert record.due_at == NOW


@pytest.mark.parametrize("status", [Status.SENDING, Status.ACCEPTED, Status.SENT, Status.DEAD])
def test_nothing_is_sent_again_once_sending_started(status):
    existing = replace(_fresh({"steps": 1}), status=status)
    assert outbox.on_detected(existing, _fresh({"steps": 2})) == (Detection.UNCHANGED, None)


def test_the_same_incident_detected_again_changes_nothing():
    assert outbox.on_detected(_fresh(), _fresh()) == (Detection.UNCHANGED, None)


def test_due_and_lease():
    record = _fresh(due=NOW + timedelta(minutes=2))
    assert not outbox.is_due(record, NOW)
    assert outbox.is_due(record, NOW + timedelta(minutes=2))
    leased = outbox.start_attempt(record, NOW + timedelta(minutes=2), POLICY)
    assert leased.status is Status.SENDING and leased.attempts == 1
    assert not outbox.is_due(leased, NOW + timedelta(minutes=3))
    assert outbox.is_due(leased, leased.due_at)  # the sender died: the lease expires and it is due again


def test_failures_back_off_exponentially_then_give_up():
    record = _fresh()
    delays = []
    for _ in range(POLICY.max_attempts):
        record = outbox.start_attempt(record, NOW, POLICY)
        record = outbox.after_failure(record, NOW, "HTTP 429: too many requests", POLICY)
        delays.append(record.due_at - NOW if record.status is Status.PENDING else None)
    assert delays == [timedelta(seconds=60), timedelta(seconds=120), None]
    assert record.status is Status.DEAD
    assert record.last_error == "HTTP 429: too many requests"
    assert not outbox.is_due(record, NOW + timedelta(days=1))


def test_backoff_is_capped():
    assert POLICY.backoff(10) == timedelta(minutes=3)


def test_success_is_final():
    sent = outbox.after_success(outbox.start_attempt(_fresh(), NOW, POLICY), NOW)
    assert sent.status is Status.SENT and sent.sent_at == NOW
    assert not outbox.is_due(sent, NOW + timedelta(days=1))


def test_an_operation_id_is_the_same_for_the_same_notices_and_attempt_only():
    one, two = _fresh(), outbox.new_record("run-failure:ws:q", "run-failure", {}, (), NOW, NOW)
    first = [outbox.start_attempt(record, NOW, POLICY) for record in (one, two)]
    assert outbox.operation_id(first) == outbox.operation_id(list(reversed(first)))  # a digest's members
    assert outbox.operation_id(first[:1]) != outbox.operation_id(first)
    second = [outbox.start_attempt(record, NOW, POLICY) for record in first]
    assert outbox.operation_id(second) != outbox.operation_id(first)


def test_an_accepted_email_is_checked_later_and_checking_is_not_an_attempt():
    leased = outbox.with_operation(outbox.start_attempt(_fresh(), NOW, POLICY), "op-1")
    accepted = outbox.after_acceptance(leased, NOW, POLICY)
    assert (accepted.status, accepted.attempts, accepted.operation_id) == (Status.ACCEPTED, 1, "op-1")
    assert not outbox.is_due(accepted, NOW) and outbox.is_due(accepted, NOW + POLICY.confirm_after)
    checking = outbox.start_attempt(accepted, NOW + POLICY.confirm_after, POLICY)
    assert (checking.attempts, checking.operation_id) == (1, "op-1")
    running = outbox.unconfirmed(checking, NOW + timedelta(minutes=2), POLICY)
    assert running.status is Status.ACCEPTED and running.due_at == NOW + timedelta(minutes=4)  # less often
    assert outbox.unconfirmed(checking, NOW + timedelta(minutes=10), POLICY).due_at == NOW + timedelta(minutes=13)
    sent = outbox.after_success(running, NOW + timedelta(minutes=20))
    assert (sent.status, sent.sent_at) == (Status.SENT, NOW)  # sent when ACS accepted it


def test_accepted_without_a_final_status_for_too_long_counts_as_sent():
    accepted = outbox.after_acceptance(outbox.start_attempt(_fresh(), NOW, POLICY), NOW, POLICY)
    late = outbox.unconfirmed(accepted, NOW + POLICY.confirm_for, POLICY, "HTTP 500")
    assert late.status is Status.SENT and "no final status" in late.last_error


def test_a_failure_in_doubt_keeps_its_operation_and_a_definitive_one_starts_afresh():
    leased = outbox.with_operation(outbox.start_attempt(_fresh(), NOW, POLICY), "op-1")
    in_doubt = outbox.after_failure(leased, NOW, "no answer", POLICY, in_doubt=True)
    assert (in_doubt.status, in_doubt.operation_id) == (Status.PENDING, "op-1")
    failed = outbox.after_failure(outbox.after_acceptance(leased, NOW, POLICY), NOW, "Failed", POLICY)
    assert (failed.status, failed.operation_id, failed.accepted) == (Status.PENDING, "", False)
    again = outbox.start_attempt(failed, NOW + timedelta(minutes=5), POLICY)
    assert again.attempts == 2  # a real attempt again


def test_records_are_bounded_when_made_and_when_updated():
    huge = {"runs": [f"{random.Random(i).getrandbits(128):032x}" for i in range(20_000)]}
    record = outbox.new_record("run-failure:" + "w" * 5000, "run-failure", huge, ("a@contoso.com",), NOW, NOW,
                               labels={"workspace": "w" * 5000})
    assert len(record.key) == 512 and len(record.labels["workspace"]) == 1024
    assert "_reduced" in record.payload and len(record.payload["runs"]) < 20_000
    _, updated = outbox.on_detected(record, outbox.new_record(record.key, "run-failure", {"runs": ["r"]}, (),
                                                              NOW, NOW))
    assert updated.payload == {"runs": ["r"]}  # the note about shortening does not stick to details that fit
