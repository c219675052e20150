"""The one follow-up: a message already out whose cause a later detection names differently gets one follow-up
record (claimed insert-if-absent by the intake); nothing else does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.detectors.base import UPDATE_OF
from shared.outbox import records
from shared.outbox.records import FOLLOW_UP, Status

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
KEY = "run-failure:ws:pipe1"


def _record(status: Status, named: str = "", key: str = KEY) -> records.OutboxRecord:
    fresh = records.new_record(key, "run-failure", {"root_cause": {"run_id": "x"}}, ("a@contoso.com",), NOW, NOW)
    return replace(fresh, status=status, named=named)


def test_a_sent_message_that_named_another_cause_gets_one_follow_up_record() -> None:
    existing = replace(_record(Status.SENT, named="pipe1_evaluate"), subject="[AML] first")
    fresh = _record(Status.PENDING)
    found = records.follow_up(existing, fresh, "pipe1_train")
    assert found is not None
    assert found.key == KEY + FOLLOW_UP and found.status is Status.PENDING and found.due_at == NOW
    assert found.payload[UPDATE_OF] == {"named": "pipe1_evaluate", "subject": "[AML] first"}
    assert found.recipients == fresh.recipients and found.labels == fresh.labels


@pytest.mark.parametrize(
    ("status", "named", "now_named", "key"),
    [
        (Status.SENT, "pipe1_train", "pipe1_train", KEY),  # the same cause
        (Status.SENT, "pipe1_evaluate", "", KEY),  # nothing named now (only the pipeline's own row)
        (Status.SENT, "", "pipe1_train", KEY),  # the message named nothing recorded (sent before this existed)
        (Status.PENDING, "", "pipe1_train", KEY),  # not sent yet: the pending record is updated instead
        (Status.SENDING, "pipe1_evaluate", "pipe1_train", KEY),  # in flight: its outcome is not known
        (Status.DEAD, "pipe1_evaluate", "pipe1_train", KEY),
        (Status.SILENCED, "pipe1_evaluate", "pipe1_train", KEY),
        (Status.SENT, "pipe1_evaluate", "pipe1_prep", KEY + FOLLOW_UP),  # never a follow-up of a follow-up
    ],
)
def test_no_follow_up_otherwise(status: Status, named: str, now_named: str, key: str) -> None:
    assert records.follow_up(_record(status, named, key), _record(Status.PENDING, key=key), now_named) is None
