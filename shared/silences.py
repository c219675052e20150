"""Silences: which one mutes an incident (pure), and the `silences` table that on-call adds to from the CLI (the
rules file holds the planned ones). Owns its state, like Alertmanager's silence/. Silences are checked when a
message is about to be sent (outbox/delivery.py), so one added during a storm also mutes what is already waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from shared.azure.tables import Tables
from shared.rules import Silence

SILENCES = "silences"
TABLES = (SILENCES,)


def open_silence_store(environ: Mapping[str, str] | None = None) -> tuple[SilenceStore, str]:
    """The `silences` table alone, from the storage settings alone (the silence commands: on-call has a role on
    this table and nothing else), and who is adding silences: the signed-in identity with a credential, else the
    local user name ($USER)."""
    import getpass

    from shared.azure.credentials import azure_credential, signed_in_name
    from shared.settings import some_settings

    read = some_settings("state_storage", "credential_kind", "credential_client_id", environ=environ)
    storage = read["state_storage"]
    if storage.connection_string:
        tables = Tables.connect(storage.connection_string, None, None, TABLES)
        return SilenceStore(tables), getpass.getuser()
    credential = azure_credential(read["credential_kind"], read["credential_client_id"])
    tables = Tables.connect(None, storage.table_endpoint, credential, TABLES).assume_created()
    return SilenceStore(tables), signed_in_name(credential) or getpass.getuser()


def silence_for(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> Silence | None:
    return next((s for s in silences if s.active(now) and s.match.matches(dict(labels))), None)


class SilenceStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def add(self, silence: Silence) -> Silence:
        stored = silence.model_copy(update={"id": silence.id or uuid.uuid4().hex[:8]})
        entity = {
            "PartitionKey": "silence",
            "RowKey": stored.id,
            "Silence": stored.model_dump_json(),
            "EndsAt": stored.ends,
        }
        self._tables.table(SILENCES).create_entity(entity)
        return stored

    def active(self, now: datetime) -> list[Silence]:
        """Stored silences not yet ended at `now`, soonest end first."""
        entities = self._tables.table(SILENCES).query_entities("EndsAt gt @now", parameters={"now": now})
        return sorted((Silence.model_validate_json(e["Silence"]) for e in entities), key=lambda s: s.ends)

    def expire(self, silence_id: str, now: datetime) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        table = self._tables.table(SILENCES)
        try:
            entity = table.get_entity("silence", silence_id)
        except ResourceNotFoundError:
            return False
        ended = Silence.model_validate_json(entity["Silence"]).model_copy(update={"ends": now})
        table.update_entity({**entity, "Silence": ended.model_dump_json(), "EndsAt": now})
        return True

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: silences that ended before `cutoff` (they mute nothing any more)."""
        return self._tables.delete_where(SILENCES, "EndsAt lt @cutoff", cutoff)
