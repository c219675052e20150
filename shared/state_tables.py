"""Azure Table Storage: watermarks, the incident outbox and scan history.

Every outbox transition is a compare-and-swap: a claim is `create_entity` (409 = someone else owns it), a
change is `update_entity` with the ETag it was read at (412 = someone else changed it first). That is what
makes two concurrent scans or webhook deliveries produce one email.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from shared import outbox
from shared.entity_bounds import (
    PayloadTooLarge,
    bounded_key,
    bounded_labels,
    bounded_recipients,
    bounded_text,
    compress,
    fit_payload,
)
from shared.outbox import Detection, OutboxRecord, Status

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

    from shared.metric_rules import SeriesState
    from shared.rules import Silence

WATERMARKS = "watermarks"
INCIDENTS = "incidents"
HISTORY = "history"
SILENCES = "silences"
METRIC_STATES = "metricstates"
WEBHOOK_DELIVERIES = "webhookdeliveries"
TABLES = (WATERMARKS, INCIDENTS, HISTORY, SILENCES, METRIC_STATES, WEBHOOK_DELIVERIES)
_BATCH = 100  # the service's limit per transaction; the SDK does not enforce it
_BATCH_BYTES = 3 * 2**20  # a transaction's body may not exceed 4 MiB; binary properties travel as base64
_FILTER_KEYS = 14  # a filter may hold 15 comparisons: the partition and 14 row keys


@dataclass(frozen=True)
class DeliveryClaim:
    """What `begin_delivery` found: "new" (ours to process, at version `etag`), "duplicate" (done before) or
    "in-progress" (another copy's unfinished claim, held until `lease_until`)."""

    status: Literal["new", "duplicate", "in-progress"]
    etag: str | None = None
    lease_until: datetime | None = None


def row_key(text: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; a hash is always valid and fixed-length."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclass(frozen=True)
class Refused:
    """The table service refused to store an entity (400: too large, invalid value), or it could not be encoded.
    Retrying cannot help; the caller stores a reduced form or reports it."""

    error: str


def refusal(err: Exception) -> Refused | None:
    """`err` as a refusal of one entity, or None for anything else (a transient failure: raise it)."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(err, HttpResponseError):  # PropertyValueTooLarge, EntityTooLarge, InvalidInput, ...
        return Refused(_describe(err)) if err.status_code == 400 else None
    return Refused(f"{type(err).__name__}: {err}") if isinstance(err, ValueError | TypeError) else None


def _describe(err: Exception) -> str:
    code = getattr(err, "error_code", None) or ""
    return bounded_text(f"HTTP {getattr(err, 'status_code', '?')} {code}: {str(err).splitlines()[0]}", 1000)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value.timestamp(), UTC)


class StateTables:
    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._ensured = False

    @classmethod
    def connect(cls, connection_string: str | None, endpoint: str | None, credential: Any = None,
                **client_options: Any) -> StateTables:
        """`client_options`: azure-core retry and connection options (`retry_total`, `read_timeout`, ...)."""
        from azure.data.tables import TableServiceClient

        if connection_string:
            return cls(TableServiceClient.from_connection_string(connection_string, **client_options))
        return cls(TableServiceClient(endpoint=endpoint, credential=credential, **client_options))

    def ensure_tables(self) -> None:
        if self._ensured:
            return
        for name in TABLES:
            self._service.create_table_if_not_exists(name)
        self._ensured = True

    def _table(self, name: str):
        self.ensure_tables()
        return self._service.get_table_client(name)

    # --- watermarks: how far each scan has read each source -------------------------------------------------

    def get_watermark(self, scan: str, source: str) -> datetime | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._table(WATERMARKS).get_entity(scan, row_key(source))
        except ResourceNotFoundError:
            return None
        return _utc(entity["Watermark"])

    def set_watermark(self, scan: str, source: str, moment: datetime) -> None:
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": scan, "RowKey": row_key(source), "Source": source, "Watermark": moment}
        self._table(WATERMARKS).upsert_entity(entity, mode=UpdateMode.REPLACE)

    # --- incidents: the claim and the outbox ------------------------------------------------------------------

    def get_incident(self, key: str) -> OutboxRecord | None:
        from azure.core.exceptions import ResourceNotFoundError

        key = bounded_key(key)
        kind = key.split(":", 1)[0]
        try:
            entity = self._table(INCIDENTS).get_entity(kind, row_key(key))
        except ResourceNotFoundError:
            return None
        return _record(entity)

    def claim_incident(self, record: OutboxRecord) -> bool:
        """Insert-if-absent. False means another scan or delivery already owns this incident."""
        from azure.core.exceptions import ResourceExistsError

        try:
            self._table(INCIDENTS).create_entity(_entity(record))
        except ResourceExistsError:
            return False
        return True

    def record_detected(self, fresh: OutboxRecord) -> Detection:
        """Claim a detected incident, or update its pending record (outbox.on_detected decides)."""
        # Two tries: a lost compare-and-swap means another instance just wrote it; read again and decide again.
        for _ in range(2):
            existing = self.get_incident(fresh.key)
            detection, record = outbox.on_detected(existing, fresh)
            if record is None:
                return detection
            written = (
                self.claim_incident(record)
                if detection is Detection.CLAIM
                else self.replace_incident(record) is not None
            )
            if written:
                return detection
        return Detection.UNCHANGED

    def claim_incidents(self, records: list[OutboxRecord]) -> list[bool | Refused | None]:
        """Claim new incidents of one kind with one round trip per batch (<= 100 entities, < 4 MiB).

        A batch is atomic: if any of its incidents is already claimed (the overlap, another instance), the
        whole batch is refused and its records are None (the caller decides those one by one); True: claimed.
        An incident the service refuses to store (or that cannot be encoded) is `Refused` and taken out of its
        batch, which is sent again without it: one incident never keeps the others from being claimed.
        """
        from azure.data.tables import TableTransactionError

        results: list[bool | Refused | None] = [None] * len(records)
        encoded = []
        for index, record in enumerate(records):
            try:
                encoded.append((index, _entity(record)))
            except Exception as err:
                results[index] = _refused_or_raise(err)
        table = self._table(INCIDENTS)
        for batch in _write_batches(encoded, entity=lambda pair: pair[1]):
            pending = list(batch)
            while pending:
                try:
                    table.submit_transaction([("create", entity) for _, entity in pending])
                except TableTransactionError as err:
                    if err.status_code == 409:
                        break  # None: decided one by one
                    results[pending[err.index][0]] = _refused_or_raise(err)
                    del pending[err.index]
                    continue
                for index, _ in pending:
                    results[index] = True
                pending = []
        return results

    def get_incidents(self, keys: list[str]) -> dict[str, OutboxRecord]:
        """The stored records of `keys` (absent keys are left out), one query per 14 keys of one kind: the
        service allows 15 comparisons per filter."""
        found: dict[str, OutboxRecord] = {}
        by_kind: dict[str, list[str]] = {}
        for key in map(bounded_key, keys):
            by_kind.setdefault(key.split(":", 1)[0], []).append(key)
        table = self._table(INCIDENTS)
        for kind, kind_keys in by_kind.items():
            for start in range(0, len(kind_keys), _FILTER_KEYS):
                chunk = kind_keys[start : start + _FILTER_KEYS]
                names = {f"k{i}": row_key(key) for i, key in enumerate(chunk)}
                rows = " or ".join(f"RowKey eq @{name}" for name in names)
                query = f"PartitionKey eq @kind and ( {rows} )"  # spaces: the SDK finds @names between them
                for entity in table.query_entities(query, parameters={"kind": kind, **names}):
                    record = _record(entity)
                    found[record.key] = record
        return found

    def replace_incidents(self, records: list[OutboxRecord], *, status_only: bool = False) -> list[OutboxRecord | None]:
        """`replace_incident` for many records in batches (each entity compare-and-swaps on its own ETag).

        A batch with one changed record is refused as a whole; that record is dropped (None: someone else
        changed it first) and the rest of the batch is sent again. `status_only`: the transition changed only
        the outbox fields (lease, outcome), so only those are written (a merge; the payload stays as stored)."""
        from azure.data.tables import TableTransactionError

        results: list[OutboxRecord | None] = [None] * len(records)
        by_kind: dict[str, list[int]] = {}
        for index, record in enumerate(records):
            by_kind.setdefault(record.kind, []).append(index)
        table = self._table(INCIDENTS)
        for indexes in by_kind.values():
            entities = [(i, _status_entity(records[i]) if status_only else _entity(records[i])) for i in indexes]
            for batch in _write_batches(entities, entity=lambda pair: pair[1]):
                pending = list(batch)
                while pending:
                    operations = [("update", entity, _cas(records[i], status_only)) for i, entity in pending]
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

    def replace_incident(self, record: OutboxRecord) -> OutboxRecord | None:
        """Write `record` if nobody changed it since it was read; the stored record (new ETag) or None."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        try:
            metadata = self._table(INCIDENTS).update_entity(
                _entity(record),
                mode=UpdateMode.REPLACE,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(record, etag=metadata.get("etag"))

    def due_incidents(self, now: datetime) -> list[OutboxRecord]:
        query = "(Status eq 'pending' or Status eq 'sending' or Status eq 'accepted') and DueAt le @now"
        entities = self._table(INCIDENTS).query_entities(query, parameters={"now": now})
        return sorted((_record(entity) for entity in entities), key=lambda record: record.due_at)

    def incidents(self, status: Status | None = None) -> list[OutboxRecord]:
        table = self._table(INCIDENTS)
        entities = (
            table.query_entities("Status eq @status", parameters={"status": status.value})
            if status
            else table.list_entities()
        )
        return [_record(entity) for entity in entities]

    # --- silences added by on-call from the CLI (the rules file holds the planned ones) ---------------------

    def add_silence(self, silence: Silence) -> Silence:
        stored = silence.model_copy(update={"id": silence.id or uuid.uuid4().hex[:8]})
        entity = {
            "PartitionKey": "silence",
            "RowKey": stored.id,
            "Silence": stored.model_dump_json(),
            "EndsAt": stored.ends,
        }
        self._table(SILENCES).create_entity(entity)
        return stored

    def silences(self, now: datetime | None = None) -> list[Silence]:
        """All stored silences, or only those not yet ended at `now`."""
        from shared.rules import Silence

        table = self._table(SILENCES)
        entities = table.query_entities("EndsAt gt @now", parameters={"now": now}) if now else table.list_entities()
        return sorted((Silence.model_validate_json(e["Silence"]) for e in entities), key=lambda s: s.ends)

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        table = self._table(SILENCES)
        try:
            entity = table.get_entity("silence", silence_id)
        except ResourceNotFoundError:
            return False
        from shared.rules import Silence

        ended = Silence.model_validate_json(entity["Silence"]).model_copy(update={"ends": now})
        table.update_entity({**entity, "Silence": ended.model_dump_json(), "EndsAt": now})
        return True

    # --- metric rules: one state machine per rule and series ---------------------------------------------------

    def metric_states(self, rule: str) -> dict[str, SeriesState]:
        """series key hash -> state, for every series of a rule (one partition, one round trip)."""
        from shared.metric_rules import SeriesState, SeriesStatus

        entities = self._table(METRIC_STATES).query_entities("PartitionKey eq @rule", parameters={"rule": rule})
        return {
            entity["RowKey"]: SeriesState(
                status=SeriesStatus(entity["Status"]),
                streak=int(entity.get("Streak", 0)),
                streak_start=_utc(entity.get("StreakStart")),
                episode_start=_utc(entity.get("EpisodeStart")),
                last_point=_utc(entity.get("LastPoint")),
                last_notified=_utc(entity.get("LastNotified")),
            )
            for entity in entities
        }

    def save_metric_states(self, rule: str, states: dict[str, tuple[str, SeriesState]]) -> None:
        """Upsert series states (key hash -> (series key, state)) in batches. Identical results from two
        instances make the last write harmless, so no compare-and-swap is needed here."""
        table = self._table(METRIC_STATES)
        operations = []
        for key_hash, (series_key, state) in states.items():
            entity = {
                "PartitionKey": rule, "RowKey": key_hash, "Series": series_key[:4000],
                "Status": state.status.value, "Streak": state.streak,
            }
            moments = {"StreakStart": state.streak_start, "EpisodeStart": state.episode_start,
                       "LastPoint": state.last_point, "LastNotified": state.last_notified}
            entity.update({name: value for name, value in moments.items() if value is not None})
            operations.append(("upsert", entity, {"mode": "replace"}))
        for start in range(0, len(operations), _BATCH):
            table.submit_transaction(operations[start : start + _BATCH])

    # --- history: one row per scan, for people and for the retention job ------------------------------------

    def record_scan(self, scan: str, source: str, started: datetime, **facts: Any) -> None:
        entity = {
            "PartitionKey": started.strftime("%Y%m%d"),
            # Two instances may scan at the same moment: the random part keeps their rows apart.
            "RowKey": f"{started.strftime('%H%M%S%f')}-{scan}-{row_key(source)[:12]}-{uuid.uuid4().hex[:8]}",
            "Scan": scan,
            "Source": source,
            "StartedAt": started,
            **facts,
        }
        self._table(HISTORY).create_entity(entity)

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: finished incidents and history rows older than `cutoff`, deleted in batches."""
        incidents = self._table(INCIDENTS).query_entities(
            "(Status eq 'sent' or Status eq 'dead' or Status eq 'silenced') and CreatedAt lt @cutoff",
            parameters={"cutoff": cutoff},
            select=["PartitionKey", "RowKey"],
        )
        history = self._table(HISTORY).query_entities(
            "StartedAt lt @cutoff", parameters={"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
        )
        deliveries = self._table(WEBHOOK_DELIVERIES).query_entities(
            "ReceivedAt lt @cutoff", parameters={"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
        )
        return (self._delete_all(INCIDENTS, incidents) + self._delete_all(HISTORY, history)
                + self._delete_all(WEBHOOK_DELIVERIES, deliveries))

    # --- webhook deliveries: one row per alertId + monitorCondition, so a repeated delivery is recognised ---------

    def begin_delivery(self, key: str, now: datetime, lease: timedelta) -> DeliveryClaim:
        """Claim a webhook delivery: "new" (process it), "duplicate" (already processed) or "in-progress"
        (another copy holds an unfinished claim until `lease_until`). An unfinished claim whose lease has run out
        (its processing died without releasing it) is taken over."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        table = self._table(WEBHOOK_DELIVERIES)
        entity = {"PartitionKey": key.split(":", 1)[0], "RowKey": row_key(key), "Key": key,
                  "Status": "processing", "ReceivedAt": now, "LeaseUntil": now + lease, "Deliveries": 1}
        for _ in range(2):  # a claim released between our create and our read: claim again, once
            try:
                created = table.create_entity(entity)
                return DeliveryClaim("new", created.get("etag"), now + lease)
            except ResourceExistsError:
                pass
            try:
                existing = table.get_entity(entity["PartitionKey"], entity["RowKey"])
            except ResourceNotFoundError:
                continue
            if existing.get("Status") == "done":
                return DeliveryClaim("duplicate")
            held_until = _utc(existing.get("LeaseUntil")) or now
            if held_until > now:
                return DeliveryClaim("in-progress", lease_until=held_until)
            taken = {**entity, "ReceivedAt": existing.get("ReceivedAt", now),
                     "Deliveries": int(existing.get("Deliveries", 1)) + 1}
            try:
                updated = table.update_entity(taken, mode=UpdateMode.REPLACE, etag=existing.metadata.get("etag"),
                                              match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):  # another copy took it over first
                break
            return DeliveryClaim("new", updated.get("etag"), now + lease)
        return DeliveryClaim("in-progress", lease_until=now + lease)

    def finish_delivery(self, key: str, incident_keys: Iterable[str], now: datetime) -> None:
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": key.split(":", 1)[0], "RowKey": row_key(key), "Status": "done",
                  "FinishedAt": now, "Incidents": "\n".join(incident_keys)[:30000]}
        self._table(WEBHOOK_DELIVERIES).upsert_entity(entity, mode=UpdateMode.MERGE)

    def release_delivery(self, key: str, claim: DeliveryClaim) -> bool:
        """Give up our unfinished claim so that Azure's retry can claim the delivery at once. Only the version we
        claimed is removed: False if another copy has taken it over since (a claim already gone counts as released)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        try:
            self._table(WEBHOOK_DELIVERIES).delete_entity(
                key.split(":", 1)[0], row_key(key), etag=claim.etag, match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return False
        return True

    def _delete_all(self, table_name: str, entities: Iterable[dict]) -> int:
        table = self._table(table_name)
        deleted = 0
        for batch in _batches_by_partition(entities):
            table.submit_transaction([("delete", entity) for entity in batch])
            deleted += len(batch)
        return deleted


def _batches_by_partition(entities: Iterable[dict]) -> Iterator[list[dict]]:
    by_partition: dict[str, list[dict]] = {}
    for entity in entities:
        batch = by_partition.setdefault(entity["PartitionKey"], [])
        batch.append({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]})
        if len(batch) == _BATCH:
            yield batch
            by_partition[entity["PartitionKey"]] = []
    yield from (batch for batch in by_partition.values() if batch)


def _write_batches(items: list[Any], entity: Callable[[Any], dict[str, Any]] = lambda e: e) -> Iterator[list[Any]]:
    """Consecutive batches of at most 100 entities and about 3 MiB (estimated from the payload sizes)."""
    batch: list[Any] = []
    size = 0
    for item in items:
        estimate = 1024 + len(entity(item).get("Payload", b"")) * 4 // 3
        if batch and (len(batch) == _BATCH or size + estimate > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += estimate
    if batch:
        yield batch


def _cas(record: OutboxRecord, merge: bool = False) -> dict[str, Any]:
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
    return {"mode": mode, "etag": record.etag, "match_condition": MatchConditions.IfNotModified}


def _status_entity(record: OutboxRecord) -> dict[str, Any]:
    """The outbox fields of a record: what a lease or an outcome changes."""
    entity: dict[str, Any] = {
        "PartitionKey": record.kind, "RowKey": row_key(bounded_key(record.key)), "Status": record.status.value,
        "DueAt": record.due_at, "Attempts": record.attempts, "LastError": bounded_text(record.last_error, 4000),
        "OperationId": record.operation_id, "Accepted": record.accepted,
    }
    if record.sent_at is not None:
        entity["SentAt"] = record.sent_at
    return entity


def _entity(record: OutboxRecord) -> dict[str, Any]:
    """Every property bounded (entity_bounds.py): the compressed payload <= 64,000 bytes, the key <= 512
    characters, the labels <= 16,000, the recipients <= 32,000, the error <= 4,000, so the entity stays far
    below the service's 1 MiB whatever the incident holds."""
    key, labels = bounded_key(record.key), bounded_labels(record.labels)
    try:
        _, payload = fit_payload(record.payload)
    except PayloadTooLarge as err:  # does not fit even shortened: the minimal form
        payload = compress(outbox.minimal_payload(key, labels, str(err)))
    return {
        **_status_entity(record),
        "RowKey": row_key(key),
        "Key": key,
        "Kind": record.kind,
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
        created_at=_utc(entity["CreatedAt"]),
        due_at=_utc(entity["DueAt"]),
        attempts=int(entity.get("Attempts", 0)),
        last_error=entity.get("LastError", ""),
        sent_at=_utc(entity.get("SentAt")),
        labels=json.loads(entity.get("Labels") or "{}"),
        etag=entity.metadata.get("etag"),
        operation_id=entity.get("OperationId") or "",
        accepted=bool(entity.get("Accepted", entity["Status"] == Status.SENT)),
    )


def _refused_or_raise(err: Exception) -> Refused:
    refused = refusal(err)
    if refused is None:
        raise err
    return refused

