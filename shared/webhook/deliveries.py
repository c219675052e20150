"""The webhook's memory (owner: the webhook): one row per alertId + monitorCondition in `webhookdeliveries`, so a
repeated delivery is recognised, and a copy that meets another copy's unfinished claim is told to retry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.azure.tables import Tables, cas, row_key, utc

WEBHOOK_DELIVERIES = "webhookdeliveries"
TABLES = (WEBHOOK_DELIVERIES,)


@dataclass(frozen=True)
class DeliveryClaim:
    """What `begin_delivery` found: "new" (ours to process, at version `etag`), "duplicate" (done before) or
    "in-progress" (another copy's unfinished claim, held until `lease_until`)."""

    status: Literal["new", "duplicate", "in-progress"]
    etag: str | None = None
    lease_until: datetime | None = None


class WebhookDeliveries:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def begin(self, key: str, now: datetime, lease: timedelta) -> DeliveryClaim:
        """Claim a webhook delivery: "new" (process it), "duplicate" (already processed) or "in-progress"
        (another copy holds an unfinished claim until `lease_until`). An unfinished claim whose lease has run out
        (its processing died without releasing it) is taken over."""
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

        table = self._tables.table(WEBHOOK_DELIVERIES)
        partition, row = key.split(":", 1)[0], row_key(key)
        entity = {
            "PartitionKey": partition,
            "RowKey": row,
            "Key": key,
            "Status": "processing",
            "ReceivedAt": now,
            "LeaseUntil": now + lease,
            "Deliveries": 1,
        }
        for _ in range(2):  # a claim released between our create and our read: claim again, once
            try:
                created = table.create_entity(entity)
                return DeliveryClaim("new", created.get("etag"), now + lease)
            except ResourceExistsError:
                pass
            try:
                existing = table.get_entity(partition, row)
            except ResourceNotFoundError:
                continue
            if existing.get("Status") == "done":
                return DeliveryClaim("duplicate")
            held_until = utc(existing.get("LeaseUntil")) or now
            if held_until > now:
                return DeliveryClaim("in-progress", lease_until=held_until)
            taken = {
                **entity,
                "ReceivedAt": existing.get("ReceivedAt", now),
                "Deliveries": int(existing.get("Deliveries", 1)) + 1,
            }
            try:
                updated = table.update_entity(taken, **cas(existing.metadata.get("etag")))
            except (ResourceModifiedError, ResourceNotFoundError):  # another copy took it over first
                break
            return DeliveryClaim("new", updated.get("etag"), now + lease)
        return DeliveryClaim("in-progress", lease_until=now + lease)

    def finish(self, key: str, incident_keys: Iterable[str], now: datetime) -> None:
        from azure.data.tables import UpdateMode

        entity = {
            "PartitionKey": key.split(":", 1)[0],
            "RowKey": row_key(key),
            "Status": "done",
            "FinishedAt": now,
            "Incidents": "\n".join(incident_keys)[:30000],
        }
        self._tables.table(WEBHOOK_DELIVERIES).upsert_entity(entity, mode=UpdateMode.MERGE)

    def release(self, key: str, claim: DeliveryClaim) -> bool:
        """Give up our unfinished claim so that Azure's retry can claim the delivery at once. Only the version we
        claimed is removed: False if another copy has taken it over since (a claim already gone counts as released)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        try:
            self._tables.table(WEBHOOK_DELIVERIES).delete_entity(
                key.split(":", 1)[0], row_key(key), etag=claim.etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceModifiedError:
            return False
        return True

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: deliveries received before `cutoff` (Azure retries a delivery for minutes, not days)."""
        return self._tables.delete_where(WEBHOOK_DELIVERIES, "ReceivedAt lt @cutoff", cutoff)
