"""Settling attempts whose outcome was never recorded (records.py: "due with an operation recorded"): the channel is
asked about each operation once (a digest's members share one), and what it says becomes each member's outcome.
Only the records the channel never got are sent again."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.outbox import records as outbox
from shared.outbox.channel import FAILED, SUCCEEDED, Channel, SendFailed
from shared.outbox.records import OutboxRecord, RetryPolicy

log = logging.getLogger(__name__)


def by_operation(records: list[OutboxRecord]) -> dict[str, list[OutboxRecord]]:
    groups: dict[str, list[OutboxRecord]] = defaultdict(list)
    for record in records:
        groups[record.operation_id].append(record)
    return groups


def settle(
    channels: Mapping[str, Channel[Any]], policy: RetryPolicy, records: list[OutboxRecord], now: datetime
) -> tuple[list[OutboxRecord], list[OutboxRecord]]:
    """(the outcomes to record, the records the channel never got: on a channel that cannot be asked, those it had
    not accepted)."""
    never_arrived: list[OutboxRecord] = []
    outcomes: list[OutboxRecord] = []
    for operation, members in by_operation(records).items():
        channel = channels[members[0].channel]
        try:
            status = channel.status(operation) if channel.can_confirm else (SUCCEEDED if members[0].accepted else None)
        except SendFailed as err:  # unknown: nothing is sent while in doubt
            outcomes += [
                outbox.unconfirmed(m, now, policy, str(err))
                if m.accepted
                else outbox.after_failure(m, now, str(err), policy, in_doubt=True)
                for m in members
            ]
            continue
        if status is None and not members[0].accepted:
            log.info(
                "Email operation %s never reached ACS: sending %s again", operation, ", ".join(m.key for m in members)
            )
            never_arrived += members
        elif status is None or status == SUCCEEDED:  # (an accepted operation ACS no longer knows: it took it)
            outcomes += [outbox.after_success(m, now) for m in members]
        elif status.lower() in FAILED:
            outcomes += [outbox.after_failure(m, now, f"email operation {operation} {status}", policy) for m in members]
        else:
            outcomes += [outbox.unconfirmed(m, now, policy) for m in members]
    return outcomes, never_arrived
