"""The shared Table Storage plumbing: every store (scans/state.py, scans/metric_states.py, outbox/store.py,
silences.py, webhook/deliveries.py) uses it, none re-implements it.

- one client per table, made once when the account is connected and reused: `get_table_client` builds a new
  azure-core pipeline over policy objects it shares with every other client of the account, re-linking them,
  which is not thread-safe (seen under 8 threads: `'_SansIOHTTPPolicyRunner' object has no attribute 'next'`);
- every table created once per process (`ensure`), before its first use;
- row keys that are always valid (`row_key`), batches within the service's limits (`write_batches`: 100
  operations and about 3 MiB of a transaction's 4 MiB; `batches_by_partition`), ETag compare-and-swap options
  (`cas`), and what counts as the service refusing one entity (`refusal`) rather than failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload

from shared.azure.entity_bounds import bounded_text

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableServiceClient

BATCH = 100  # the service's limit per transaction; the SDK does not enforce it
BATCH_BYTES = 3 * 2**20  # a transaction's body may not exceed 4 MiB; binary properties travel as base64
FILTER_KEYS = 14  # a filter may hold 15 comparisons: the partition and 14 row keys
T = TypeVar("T")


class Tables:
    """The tables of one storage account, each with its own client (made once) and created once."""

    def __init__(self, service: TableServiceClient, names: Iterable[str]) -> None:
        self._service = service
        self._clients = {name: service.get_table_client(name) for name in names}
        self._lock = threading.Lock()
        self._ensured = False

    @classmethod
    def connect(
        cls,
        connection_string: str | None,
        endpoint: str | None,
        credential: TokenCredential | None,
        names: Iterable[str],
        **client_options: Any,
    ) -> Tables:
        """`client_options`: azure-core retry and connection options (`retry_total`, `read_timeout`, ...)."""
        from azure.data.tables import TableServiceClient

        if connection_string:
            return cls(TableServiceClient.from_connection_string(connection_string, **client_options), names)
        if endpoint is None or credential is None:
            raise ValueError("a connection string, or an endpoint and a credential, is needed")
        return cls(TableServiceClient(endpoint=endpoint, credential=credential, **client_options), names)

    def ensure(self) -> None:
        """Create every table that does not exist yet, once per process."""
        from azure.core.exceptions import ResourceExistsError

        with self._lock:
            if self._ensured:
                return
            for client in self._clients.values():
                with contextlib.suppress(ResourceExistsError):
                    client.create_table()
            self._ensured = True

    def assume_created(self) -> Tables:
        """For a caller whose role covers one table's data and nothing more (on-call's role on `silences`): the
        deployment created the tables, and a request to create one would be refused."""
        self._ensured = True
        return self

    def table(self, name: str) -> TableClient:
        if not self._ensured:
            self.ensure()
        return self._clients[name]

    def delete_all(self, name: str, entities: Iterable[Mapping[str, Any]]) -> int:
        """Delete these entities (only their keys are used) in batches of one partition; how many."""
        table = self.table(name)
        deleted = 0
        for batch in batches_by_partition(entities):
            table.submit_transaction([("delete", entity) for entity in batch])
            deleted += len(batch)
        return deleted

    def delete_where(self, name: str, query: str, cutoff: datetime) -> int:
        """Retention: delete the rows matching `query` (with @cutoff), in batches; how many."""
        rows = self.table(name).query_entities(query, parameters={"cutoff": cutoff}, select=["PartitionKey", "RowKey"])
        return self.delete_all(name, rows)


def row_key(text: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; a hash is always valid and fixed-length."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """A stored datetime as an aware UTC datetime (the SDK returns its own TablesEntityDatetime)."""
    return None if value is None else datetime.fromtimestamp(value.timestamp(), UTC)


def cas(etag: str | None, *, merge: bool = False) -> dict[str, Any]:
    """Options of a compare-and-swap update: only if the entity is still at `etag`."""
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
    return {"mode": mode, "etag": etag, "match_condition": MatchConditions.IfNotModified}


@dataclass(frozen=True)
class Refused:
    """The table service refused to store an entity (400: too large, invalid value), or it could not be encoded.
    Retrying cannot help; the caller stores a reduced form or reports it."""

    error: str


def refusal(err: BaseException) -> Refused | None:
    """`err` as a refusal of one entity, or None for anything else (a transient failure: raise it)."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(err, HttpResponseError):  # PropertyValueTooLarge, EntityTooLarge, InvalidInput, ...
        return Refused(_describe(err)) if err.status_code == 400 else None
    return Refused(f"{type(err).__name__}: {err}") if isinstance(err, ValueError | TypeError) else None


def refused_or_raise(err: Exception) -> Refused:
    refused = refusal(err)
    if refused is None:
        raise err
    return refused


def _describe(err: Exception) -> str:
    code = getattr(err, "error_code", None) or ""
    return bounded_text(f"HTTP {getattr(err, 'status_code', '?')} {code}: {str(err).splitlines()[0]}", 1000)


def batches_by_partition(entities: Iterable[Mapping[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The keys of `entities` in batches of at most 100, each of one partition (a transaction's rule)."""
    by_partition: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        batch = by_partition.setdefault(entity["PartitionKey"], [])
        batch.append({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]})
        if len(batch) == BATCH:
            yield batch
            by_partition[entity["PartitionKey"]] = []
    yield from (batch for batch in by_partition.values() if batch)


def write_batches(items: list[T], entity: Callable[[T], Mapping[str, Any]]) -> Iterator[list[T]]:
    """Consecutive batches of at most 100 entities and about 3 MiB (estimated from the payload sizes)."""
    batch: list[T] = []
    size = 0
    for item in items:
        estimate = 1024 + len(entity(item).get("Payload", b"")) * 4 // 3
        if batch and (len(batch) == BATCH or size + estimate > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += estimate
    if batch:
        yield batch
