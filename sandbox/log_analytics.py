"""Log Analytics query API (``POST /v1/workspaces/{id}/query``) over duckdb-kql.

Each workspace is one DuckDB connection. The rows ever added live in an attached database ``store`` with
an extra column ``_IngestedAt``; before every query the tables the KQL sees are re-created as views over the
store that keep only the rows already ingested (``_IngestedAt <= now``) and, when the request carries a
timespan, inside it by ``TimeGenerated`` - which is exactly what the service lets a query see.

The only rewrite of the KQL text: ``ingestion_time()`` becomes the ``_IngestedAt`` column, because duckdb-kql
has no mapping for it. ``now()`` and ``ago()`` follow the sandbox clock through duckdb-kql's ``query_now``.

A resource-log table exists in a workspace only once a row has been ingested into it (Log Analytics creates it
on first ingestion): until then it has no view, and a query naming it fails as the service's does, HTTP 400
``BadArgumentError`` / ``SemanticError`` / ``SEM0100`` "Failed to resolve table or column expression named 'T'"
(the body recorded in the team's wire samples). ``union isfuzzy=true`` skips such a table (duckdb-kql drops a
fuzzy branch whose table is not in the catalog), and the answer then carries one warning per skipped table as a
``PartialError`` beside the rows. That warning is an assumption, not a recording: the union operator's docs say
fuzzy resolution yields "a warning in the query status results (one for each missing reference)", and the v1
API returns query warnings as ``PartialError`` details with ``severityName: Warning`` (azure-sdk-for-python
issue 25137). The app must read such an answer as complete; if the service sends no warning, nothing changes.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import duckdb
import duckdb_kql
import duckdb_kql.engine

from .errors import ServiceError
from .timeutil import format_datetime, format_timespan_kusto, parse_datetime, parse_timespan

DEFAULT_WORKSPACE_ID = "11111111-1111-1111-1111-111111111111"
INGESTED_AT = "_IngestedAt"

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMPTZ",
    "int": "INTEGER",
    "long": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "dynamic": "JSON",
    "guid": "VARCHAR",
}
_KUSTO_TYPES = {
    "DATE": "datetime",
    "BIGINT": "long",
    "HUGEINT": "long",
    "UBIGINT": "long",
    "INTEGER": "int",
    "SMALLINT": "int",
    "TINYINT": "int",
    "UINTEGER": "int",
    "USMALLINT": "int",
    "UTINYINT": "int",
    "DOUBLE": "real",
    "FLOAT": "real",
    "BOOLEAN": "bool",
    "INTERVAL": "timespan",
    "UUID": "guid",
    "JSON": "dynamic",
}
_INGESTION_TIME_CALL = re.compile(r"\bingestion_time\s*\(\s*\)")
_DATETIME_LITERAL = re.compile(r"\bdatetime\(\s*(\d{4}-\d{2}-\d{2}T[0-9:.]+Z?)\s*\)")
_CLOCK_CALL = re.compile(r"\b(now|ago)\s*\(")
# A result column the hidden _IngestedAt produced (``*``, or a join's ``_IngestedAt1``) is not shown.
_HIDDEN_RESULT_COLUMN = re.compile(r"^_IngestedAt\d*$")
# How duckdb-kql and DuckDB name a table they cannot find.
_UNRESOLVED_TABLE = (
    re.compile(r"schema error for '([^']+)' \(unknown table"),
    re.compile(r"Table with name (\S+) does not exist"),
)
# Kusto's code for a fuzzy-union warning, as it appears in the v1 API's PartialError details.
_FUZZY_WARNING_CODE = "-2133196790"


def _kusto_type(duckdb_type: str) -> str:
    """The Kusto type name a result column of this DuckDB type is reported with."""
    name = duckdb_type.upper()
    if name.startswith("TIMESTAMP"):
        return "datetime"
    if name.startswith("DECIMAL"):
        return "real"
    if name.endswith("[]") or name.startswith(("STRUCT", "MAP")):
        return "dynamic"
    return _KUSTO_TYPES.get(name, "string")


def _wire_value(kusto_type: str, value: Any) -> Any:
    """A result cell as the service writes it: datetimes ``...Z``, dynamic as JSON text, timespans as Kusto
    text (the v1 API returns dynamic values as strings; the SDK passes them through untouched)."""
    if value is None:
        return None
    if kusto_type == "datetime":
        return format_datetime(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
    if kusto_type == "timespan" and isinstance(value, timedelta):
        return format_timespan_kusto(value)
    if kusto_type == "dynamic":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kusto_type in ("guid", "string") and not isinstance(value, str):
        return str(value)
    return value


# (query text with its datetime literals cut out, tables that exist) -> (SQL, parameter slots)
Translations = dict[tuple[str, frozenset[str]], tuple[str, dict[str, int]]]


class Workspace:
    """One workspace's tables in one DuckDB connection; a lock serialises it (connections are not
    thread-safe and the views are per-query state)."""

    def __init__(self, schemas: dict[str, list[tuple[str, str]]], translations: Translations | None = None) -> None:
        self._schemas = schemas
        self._lock = threading.Lock()
        self._con = duckdb_kql.connect()
        self._con.execute("SET TimeZone='UTC'")
        # Shared by the workspaces: a translation depends only on the text and on which tables exist.
        self._translations: Translations = {} if translations is None else translations
        self._first_ingested: dict[str, datetime] = {}  # table -> when its first row was ingested
        self._con.execute("ATTACH ':memory:' AS store")
        for table, columns in schemas.items():
            ddl = ", ".join(f'"{name}" {_DUCKDB_TYPES[kind]}' for name, kind in columns)
            self._con.execute(f'CREATE TABLE store.main."{table}" ({ddl}, "{INGESTED_AT}" TIMESTAMPTZ)')

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = [name for name, _ in self._schemas[table]] + [INGESTED_AT]
        placeholders = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{name}"' for name in columns)
        values = [[row.get(name) for name in columns] for row in rows]
        with self._lock:
            sql = f'INSERT INTO store.main."{table}" ({names}) VALUES ({placeholders})'  # noqa: S608 - schema names
            self._con.executemany(sql, values)
            if rows:
                first = min(row[INGESTED_AT] for row in rows)
                self._first_ingested[table] = min(first, self._first_ingested.get(table, first))

    def existing_tables(self, now: datetime) -> frozenset[str]:
        """The tables that exist at *now*: those with a row ingested by then."""
        with self._lock:
            return frozenset(table for table, first in self._first_ingested.items() if first <= now)

    def clear(self) -> None:
        with self._lock:
            self._first_ingested.clear()
            for table in self._schemas:
                self._con.execute(f'DELETE FROM store.main."{table}"')  # noqa: S608 - schema names

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _run(self, text: str, now: datetime, existing: frozenset[str]) -> duckdb.DuckDBPyRelation:
        """Execute KQL; a query whose only varying parts are datetime literals (every scan's query: the same text
        with a new window) is translated once per set of existing tables and re-run with those literals as bound
        parameters."""
        literals = _DATETIME_LITERAL.findall(text)
        if not literals or _CLOCK_CALL.search(text) or "declare" in text:
            return duckdb_kql.kql(self._con, text, query_now=now)
        template = _DATETIME_LITERAL.sub(lambda _: "\x00", text)
        cached = self._translations.get((template, existing))
        if cached is None:
            names = [f"sbdt{i}" for i in range(len(literals))]
            parts = template.split("\x00")
            body = parts[0] + "".join(name + part for name, part in zip(names, parts[1:], strict=True))
            declared = "declare query_parameters(" + ", ".join(f"{n}:datetime" for n in names) + ");\n" + body
            # Distinct sentinel values reveal which SQL placeholder stands for which literal.
            sentinels = {name: datetime(2000 + i, 1, 1) for i, name in enumerate(names)}
            translated = duckdb_kql.to_sql(declared, schema=duckdb_kql.engine.schema(self._con), parameters=sentinels)
            by_value = {value: name for name, value in sentinels.items()}
            slots = {slot: names.index(by_value[value]) for slot, value in translated.parameters.items()}
            cached = self._translations[(template, existing)] = (str(translated), slots)
        sql, slots = cached
        values = [parse_datetime(literal).replace(tzinfo=None) for literal in literals]
        return self._con.sql(sql, params={slot: values[index] for slot, index in slots.items()})

    def query(self, kql: str, now: datetime, window: tuple[datetime, datetime] | None) -> dict[str, Any]:
        """Run *kql* as the service would at *now*; the answer is the ``tables`` JSON body, with a
        ``PartialError`` warning for each table a fuzzy union skipped because it does not exist yet."""
        text = _INGESTION_TIME_CALL.sub(INGESTED_AT, kql)
        condition = f"\"{INGESTED_AT}\" <= TIMESTAMPTZ '{now.isoformat()}'"
        if window:
            condition += (
                f" AND \"TimeGenerated\" BETWEEN TIMESTAMPTZ '{window[0].isoformat()}'"
                f" AND TIMESTAMPTZ '{window[1].isoformat()}'"
            )
        existing = self.existing_tables(now)
        with self._lock:
            for table in self._schemas:
                # Schema names and times formatted above: nothing from the request reaches this SQL.
                if table in existing:
                    view = f'CREATE OR REPLACE VIEW main."{table}" AS SELECT * FROM store.main."{table}"'  # noqa: S608
                    self._con.execute(f"{view} WHERE {condition}")
                else:
                    self._con.execute(f'DROP VIEW IF EXISTS main."{table}"')
            try:
                relation = self._run(text, now, existing)
                names, types, rows = relation.columns, [str(t) for t in relation.types], relation.fetchall()
            except duckdb_kql.KqlSyntaxError as exc:
                raise _bad_argument("SyntaxError", str(exc)) from exc
            except (duckdb_kql.KqlError, duckdb.Error) as exc:
                raise _semantic_error(str(exc), kql) from exc
        shown = [i for i, name in enumerate(names) if not _HIDDEN_RESULT_COLUMN.match(name)]
        kusto_types = [_kusto_type(t) for t in types]
        answer: dict[str, Any] = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": names[i], "type": kusto_types[i]} for i in shown],
                    "rows": [[_wire_value(kusto_types[i], row[i]) for i in shown] for row in rows],
                }
            ]
        }
        skipped = [table for table in self._schemas if table not in existing and re.search(rf"\b{table}\b", kql)]
        if skipped:
            answer["error"] = partial_error([_fuzzy_warning(table) for table in skipped])
        return answer


def partial_error(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The top-level ``error`` of a 200 answer whose result is partial or came with warnings."""
    return {"code": "PartialError", "message": "There were some errors when processing your query.", "details": details}


def _fuzzy_warning(table: str) -> dict[str, Any]:
    return {
        "code": "EngineError",
        "message": "Something went wrong processing your query on the server.",
        "innererror": {
            "code": _FUZZY_WARNING_CODE,
            "message": f"'union' operator: Failed to resolve table expression named '{table}'",
            "severity": 3,
            "severityName": "Warning",
        },
    }


def _bad_argument(inner_code: str, message: str) -> ServiceError:
    return ServiceError(
        400,
        "BadArgumentError",
        "The request had some invalid properties",
        correlationId=str(uuid.uuid4()),
        innererror={"code": inner_code, "message": message},
    )


def _semantic_error(message: str, kql: str) -> ServiceError:
    """An unknown or not-yet-created table answers Kusto's SEM0100, named after the first operator applied to
    it (``'where' operator: ...``); other semantic errors carry the library's message."""
    table = next(
        (match.group(1).strip('"') for pattern in _UNRESOLVED_TABLE if (match := pattern.search(message))), None
    )
    if table is None:
        return _bad_argument("SemanticError", message)
    operator = re.search(rf"\b{re.escape(table)}\b\s*\|\s*([a-z][a-z-]*)", kql)
    prefix = f"'{operator.group(1)}' operator: " if operator else ""
    return ServiceError(
        400,
        "BadArgumentError",
        "The request had some invalid properties",
        correlationId=str(uuid.uuid4()),
        innererror={
            "code": "SemanticError",
            "message": "A semantic error occurred.",
            "innererror": {
                "code": "SEM0100",
                "message": f"{prefix}Failed to resolve table or column expression named '{table}'",
            },
        },
    )


class LogAnalytics:
    """The workspaces the sandbox knows: the default one plus any added, or that rows were added for; any other
    workspace id answers 404."""

    def __init__(self, schemas: dict[str, list[tuple[str, str]]]) -> None:
        self._schemas = schemas
        self._lock = threading.Lock()
        self._workspaces: dict[str, Workspace] = {}
        self._translations: Translations = {}

    def _workspace(self, workspace_id: str, create: bool) -> Workspace | None:
        key = workspace_id.lower()
        with self._lock:
            if key not in self._workspaces and (create or key == DEFAULT_WORKSPACE_ID):
                self._workspaces[key] = Workspace(self._schemas, self._translations)
            return self._workspaces.get(key)

    def add_workspace(self, workspace_id: str) -> None:
        """A workspace with no table yet (what a new workspace, or one no diagnostic setting sends to, is)."""
        self._workspace(workspace_id, create=True)

    def add_rows(self, table: str, rows: list[dict[str, Any]], workspace_id: str, ingestion_delay: timedelta) -> None:
        """Store *rows* (real column names) with their ingestion time; unknown table or column -> ValueError."""
        if table not in self._schemas:
            raise ValueError(f"unknown table {table!r}; known: {sorted(self._schemas)}")
        kinds = dict(self._schemas[table])
        prepared = []
        for row in rows:
            unknown = set(row) - set(kinds) - {INGESTED_AT}
            if unknown:
                raise ValueError(f"unknown column(s) for {table}: {sorted(unknown)}")
            clean: dict[str, Any] = {}
            for name, given in row.items():
                kind = "datetime" if name == INGESTED_AT else kinds[name]
                if given is not None and kind == "datetime":
                    clean[name] = parse_datetime(given)
                elif given is not None and kind == "dynamic" and not isinstance(given, str):
                    clean[name] = json.dumps(given, separators=(",", ":"))
                else:
                    clean[name] = given
            if clean.get(INGESTED_AT) is None:
                if clean.get("TimeGenerated") is None:
                    raise ValueError(f"a {table} row needs TimeGenerated or {INGESTED_AT}")
                clean[INGESTED_AT] = clean["TimeGenerated"] + ingestion_delay
            prepared.append(clean)
        workspace = self._workspace(workspace_id, create=True)
        assert workspace is not None
        workspace.insert(table, prepared)

    def clear(self) -> None:
        with self._lock:
            workspaces = list(self._workspaces.values())
        for workspace in workspaces:
            workspace.clear()

    def close(self) -> None:
        """Release the DuckDB connections (a stopped sandbox answers no more queries)."""
        with self._lock:
            workspaces, self._workspaces = list(self._workspaces.values()), {}
        for workspace in workspaces:
            workspace.close()

    def query(self, workspace_id: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        workspace = self._workspace(workspace_id, create=False)
        if workspace is None:
            raise ServiceError(
                404, "PathNotFoundError", "The requested path does not exist", correlationId=str(uuid.uuid4())
            )
        kql = body.get("query")
        if not isinstance(kql, str) or not kql.strip():
            raise ServiceError(
                400, "BadArgumentError", "The request had some invalid properties", correlationId=str(uuid.uuid4())
            )
        window = None
        if body.get("timespan"):
            try:
                window = parse_timespan(body["timespan"], now)
            except ValueError as exc:
                raise ServiceError(
                    400, "BadArgumentError", f"Invalid timespan: {exc}", correlationId=str(uuid.uuid4())
                ) from exc
        return workspace.query(kql, now, window)
