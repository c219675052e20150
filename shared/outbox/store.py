"""The `incidents` table: storage primitives only (create, create in batches, read, compare-and-swap, the due
query, retention). No decisions: the intake (intake.py) and the delivery (delivery.py) make them.

Every outbox transition is a compare-and-swap: a claim is a create (409 = someone else owns it), a change is an
update with the ETag it was read at (412 = someone else changed it first). That is what makes two concurrent
scans or webhook deliveries produce one message. An entity's partition is the incident's kind, its row key a
hash of its key.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.azure.entity_bounds import (
    PayloadTooLarge,
    bounded_key,
    bounded_labels,
    bounded_recipients,
    bounded_text,
    compress,
    fit_payload,
)
from shared.azure.tables import FILTER_KEYS, Refused, Tables, cas, refused_or_raise, row_key, utc, write_batches
from shared.outbox.records import OutboxRecord, Status, minimal_payload
from shared.rules import DEFAULT_CHANNEL

INCIDENTS = "incidents"
TABLES = (INCIDENTS,)
_FINISHED = "(Status eq 'sent' or Status eq 'dead' or Status eq 'silenced' or Status eq 'replaced')"
_IN_FLIGHT_STATUSES = ("pending", "sending", "accepted")
_IN_FLIGHT = "(" + " or ".join(f"Status eq '{status}'" for status in _IN_FLIGHT_STATUSES) + ")"


class IncidentStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _table(self) -> Any:
        return self._tables.table(INCIDENTS)

    def get(self, key: str) -> OutboxRecord | None:
        from azure.core.exceptions import ResourceNotFoundError

        key = bounded_key(key)
        try:
            entity = self._table().get_entity(key.split(":", 1)[0], row_key(key))
        except ResourceNotFoundError:
            return None
        return _record(entity)

    def create(self, record: OutboxRecord) -> bool:
        """Insert-if-absent. False means another scan or delivery already owns this incident."""
        from azure.core.exceptions import ResourceExistsError

        try:
            self._table().create_entity(_entity(record))
        except ResourceExistsError:
            return False
        return True

    def create_batch(self, records: list[OutboxRecord]) -> list[bool | Refused | None]:
        """Create incidents of one kind with one round trip per batch (<= 100 entities, < 4 MiB).

        A batch is atomic: if any of its incidents exists already (the overlap, another instance), the whole
        batch is refused and its records are None (the caller decides those one by one); True: created.
        An incident the service refuses to store (or that cannot be encoded) is `Refused` and taken out of its
        batch, which is sent again without it: one incident never keeps the others from being created.
        """
        from azure.data.tables import TableTransactionError

        results: list[bool | Refused | None] = [None] * len(records)
        encoded = []
        for index, record in enumerate(records):
            try:
                encoded.append((index, _entity(record)))
            except Exception as err:
                results[index] = refused_or_raise(err)
        table = self._table()
        if len(encoded) == 1:  # one create: a transaction costs the service a multipart parse for nothing
            index, entity = encoded[0]
            results[index] = self._create_one(table, entity)
            return results
        for batch in write_batches(encoded, entity=lambda pair: pair[1]):
            pending = list(batch)
            while pending:
                try:
                    table.submit_transaction([("create", entity) for _, entity in pending])
                except TableTransactionError as err:
                    if err.status_code == 409:
                        break  # None: decided one by one
                    results[pending[err.index][0]] = refused_or_raise(err)
                    del pending[err.index]
                    continue
                for index, _ in pending:
                    results[index] = True
                pending = []
        return results

    @staticmethod
    def _create_one(table: Any, entity: dict[str, Any]) -> bool | Refused | None:
        from azure.core.exceptions import ResourceExistsError

        try:
            table.create_entity(entity)
        except ResourceExistsError:
            return None
        except Exception as err:
            return refused_or_raise(err)
        return True

    def get_many(self, keys: list[str]) -> dict[str, OutboxRecord]:
        """The stored records of `keys` (absent keys are left out), one query per 14 keys of one kind: the
        service allows 15 comparisons per filter."""
        found: dict[str, OutboxRecord] = {}
        by_kind: dict[str, list[str]] = {}
        for key in map(bounded_key, keys):
            by_kind.setdefault(key.split(":", 1)[0], []).append(key)
        table = self._table()
        for kind, kind_keys in by_kind.items():
            for start in range(0, len(kind_keys), FILTER_KEYS):
                chunk = kind_keys[start : start + FILTER_KEYS]
                names = {f"k{i}": row_key(key) for i, key in enumerate(chunk)}
                rows = " or ".join(f"RowKey eq @{name}" for name in names)
                query = f"PartitionKey eq @kind and ( {rows} )"  # spaces: the SDK finds @names between them
                for entity in table.query_entities(query, parameters={"kind": kind, **names}):
                    record = _record(entity)
                    found[record.key] = record
        return found

    def get_in_flight(self, keys: list[str]) -> dict[str, OutboxRecord]:
        """The records of `keys` that are in flight (pending, sending, accepted). A few keys are read by key (14 to a
        query); more, by one query per kind for its records in flight: one round trip per 1,000 records instead of
        one per 14 keys (a scan's storm names hundreds in one message)."""
        if len(keys) <= FILTER_KEYS:
            return {key: r for key, r in self.get_many(keys).items() if r.status.value in _IN_FLIGHT_STATUSES}
        wanted = {bounded_key(key) for key in keys}
        table, found = self._table(), {}
        for kind in sorted({key.split(":", 1)[0] for key in wanted}):
            query = f"PartitionKey eq @kind and {_IN_FLIGHT}"
            for entity in table.query_entities(query, parameters={"kind": kind}):
                record = _record(entity)
                if record.key in wanted:
                    found[record.key] = record
        return found

    def replace(self, record: OutboxRecord) -> OutboxRecord | None:
        """Write `record` if nobody changed it since it was read; the stored record (new ETag) or None."""
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            metadata = self._table().update_entity(_entity(record), **cas(record.etag))
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(record, etag=metadata.get("etag"))

    def replace_batch(self, records: list[OutboxRecord], *, status_only: bool = False) -> list[OutboxRecord | None]:
        """`replace` for many records in batches (each entity compare-and-swaps on its own ETag).

        A batch with one changed record is refused as a whole; that record is dropped (None: someone else
        changed it first) and the rest of the batch is sent again. `status_only`: the transition changed only
        the outbox fields (lease, outcome), so only those are written (a merge; the payload stays as stored)."""
        from azure.data.tables import TableTransactionError

        results: list[OutboxRecord | None] = [None] * len(records)
        by_kind: dict[str, list[int]] = {}
        for index, record in enumerate(records):
            by_kind.setdefault(record.kind, []).append(index)
        table = self._table()
        for indexes in by_kind.values():
            entities = [(i, _status_entity(records[i]) if status_only else _entity(records[i])) for i in indexes]
            for batch in write_batches(entities, entity=lambda pair: pair[1]):
                pending = list(batch)
                while pending:
                    operations = [("update", entity, cas(records[i].etag, merge=status_only)) for i, entity in pending]
                    try:
                        metadata = table.submit_transaction(operations)
                    except TableTransactionError as err:
                        if err.status_code not in (404, 412):
                            raise
                        del pending[err.index]  # changed or removed by someone else: not ours to write
                        continue
                    for (i, _), meta in zip(pending, metadata, strict=True):
                        results[i] = replace(records[i], etag=meta.get("etag"))
                    pending = []
        return results

    def due(self, now: datetime) -> list[OutboxRecord]:
        entities = self._table().query_entities(f"{_IN_FLIGHT} and DueAt le @now", parameters={"now": now})
        return sorted((_record(entity) for entity in entities), key=lambda record: record.due_at)

    def records(self, status: Status | None = None) -> list[OutboxRecord]:
        table = self._table()
        entities = (
            table.query_entities("Status eq @status", parameters={"status": status.value})
            if status
            else table.list_entities()
        )
        return [_record(entity) for entity in entities]

    def recorded(self, kind: str) -> dict[str, datetime]:
        """Every incident key of `kind` -> when it was recorded (one partition, two properties): what a periodic
        check needs to know which of its notices exist (stuck runs: reminders and "finished" notices)."""
        entities = self._table().query_entities(
            "PartitionKey eq @kind", parameters={"kind": kind}, select=["Key", "CreatedAt"]
        )
        return {entity["Key"]: utc(entity["CreatedAt"]) for entity in entities}

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: finished incidents (sent, dead, silenced) created before `cutoff`; pending ones stay."""
        return self._tables.delete_where(INCIDENTS, f"{_FINISHED} and CreatedAt lt @cutoff", cutoff)


def _status_entity(record: OutboxRecord) -> dict[str, Any]:
    """The outbox fields of a record: what a lease or an outcome changes."""
    entity: dict[str, Any] = {
        "PartitionKey": record.kind,
        "RowKey": row_key(bounded_key(record.key)),
        "Status": record.status.value,
        "DueAt": record.due_at,
        "Attempts": record.attempts,
        "LastError": bounded_text(record.last_error, 4000),
        "OperationId": record.operation_id,
        "Accepted": record.accepted,
    }
    if record.named:
        entity["Named"] = bounded_text(record.named, 1000)
        entity["Subject"] = bounded_text(record.subject, 1000)
    if record.sent_at is not None:
        entity["SentAt"] = record.sent_at
    return entity


def _entity(record: OutboxRecord) -> dict[str, Any]:
    """Every property bounded (shared/azure/entity_bounds.py): the compressed payload <= 64,000 bytes, the key <= 512
    characters, the labels <= 16,000, the recipients <= 32,000, the error <= 4,000, so the entity stays far
    below the service's 1 MiB whatever the incident holds."""
    key, labels = bounded_key(record.key), bounded_labels(record.labels)
    try:
        _, payload = fit_payload(record.payload)
    except PayloadTooLarge as err:  # does not fit even shortened: the minimal form
        payload = compress(minimal_payload(key, labels, str(err)))
    return {
        **_status_entity(record),
        "RowKey": row_key(key),
        "Key": key,
        "Kind": record.kind,
        "Channel": record.channel,
        "Payload": payload,
        "Recipients": ",".join(bounded_recipients(record.recipients)),
        "Labels": json.dumps(labels, sort_keys=True),
        "CreatedAt": record.created_at,
    }


def _record(entity: Any) -> OutboxRecord:
    return OutboxRecord(
        key=entity["Key"],
        kind=entity["Kind"],
        payload=json.loads(zlib.decompress(bytes(entity["Payload"]))),
        recipients=tuple(address for address in entity.get("Recipients", "").split(",") if address),
        status=Status(entity["Status"]),
        created_at=utc(entity["CreatedAt"]),
        due_at=utc(entity["DueAt"]),
        attempts=int(entity.get("Attempts", 0)),
        last_error=entity.get("LastError", ""),
        sent_at=utc(entity.get("SentAt")),
        labels=json.loads(entity.get("Labels") or "{}"),
        etag=entity.metadata.get("etag"),
        operation_id=entity.get("OperationId") or "",
        accepted=bool(entity.get("Accepted", entity["Status"] == Status.SENT)),
        channel=entity.get("Channel") or DEFAULT_CHANNEL,  # rows written before channels were named: email
        named=entity.get("Named") or "",
        subject=entity.get("Subject") or "",
    )
