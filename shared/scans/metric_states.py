"""The metric scan's memory (owner: the metric scan): one state machine per rule and series, in `metricstates`.

Retention: a series whose newest evaluated point is older than the cutoff has not been seen since (its resource
was deleted, its dimension value went away); its state is removed, so the table does not grow for ever. A series
that comes back starts again from OK.
"""

from __future__ import annotations

from datetime import datetime

from shared.azure.tables import BATCH, Tables, utc
from shared.detectors.metric_rules import SeriesState, SeriesStatus

METRIC_STATES = "metricstates"
TABLES = (METRIC_STATES,)


class MetricStates:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def load(self, rule: str) -> dict[str, SeriesState]:
        """series key hash -> state, for every series of a rule (one partition, one round trip)."""
        table = self._tables.table(METRIC_STATES)
        entities = table.query_entities("PartitionKey eq @rule", parameters={"rule": rule})
        return {
            entity["RowKey"]: SeriesState(
                status=SeriesStatus(entity["Status"]),
                streak=int(entity.get("Streak", 0)),
                streak_start=utc(entity.get("StreakStart")),
                episode_start=utc(entity.get("EpisodeStart")),
                last_point=utc(entity.get("LastPoint")),
                last_notified=utc(entity.get("LastNotified")),
            )
            for entity in entities
        }

    def save(self, rule: str, states: dict[str, tuple[str, SeriesState]]) -> None:
        """Upsert series states (key hash -> (series key, state)) in batches. Identical results from two
        instances make the last write harmless, so no compare-and-swap is needed here."""
        table = self._tables.table(METRIC_STATES)
        operations = []
        for key_hash, (series_key, state) in states.items():
            entity: dict[str, object] = {
                "PartitionKey": rule,
                "RowKey": key_hash,
                "Series": series_key[:4000],
                "Status": state.status.value,
                "Streak": state.streak,
            }
            moments = {
                "StreakStart": state.streak_start,
                "EpisodeStart": state.episode_start,
                "LastPoint": state.last_point,
                "LastNotified": state.last_notified,
            }
            entity.update({name: value for name, value in moments.items() if value is not None})
            operations.append(("upsert", entity, {"mode": "replace"}))
        for start in range(0, len(operations), BATCH):
            table.submit_transaction(operations[start : start + BATCH])

    def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: series whose newest evaluated point is before `cutoff`."""
        return self._tables.delete_where(METRIC_STATES, "LastPoint lt @cutoff", cutoff)
