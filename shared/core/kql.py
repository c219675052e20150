"""KQL literals and optional tables. Every value that reaches a query goes through here, so no input can change a
query's meaning."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime


def kql_string(value: str) -> str:
    """A double-quoted KQL string literal; backslash, quote and control characters are escaped."""
    escaped = []
    for char in value:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def kql_string_list(values: Iterable[str]) -> str:
    """`("a", "b")` for `in` / `in~`; an empty list becomes `("")` so the query stays valid and matches nothing real."""
    literals = [kql_string(value) for value in values]
    return "(" + ", ".join(literals or ['""']) + ")"


def kql_datetime(moment: datetime) -> str:
    """`datetime(2026-01-02T03:04:05.123456Z)` from an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("KQL datetimes must be timezone-aware")
    return "datetime(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"


def optional_table(table: str, columns: Sequence[tuple[str, str]], steps: str) -> str:
    """`table | steps`, or an empty table of `columns` ((name, Kusto type), the columns `steps` ends with) in a
    workspace where `table` does not exist yet.

    Log Analytics creates a resource-log table on its first ingested row; until then a query naming it fails
    (HTTP 400, SEM0100 "Failed to resolve table or column expression"), and a workspace whose jobs never run on
    AmlCompute may never get `AmlComputeJobEvent`. Of the ways round it, this is the one that costs one request
    per scan: `union isfuzzy=true` drops a leg whose table cannot be resolved, and the empty `datatable` leg
    keeps the union (and the columns the rest of the query needs) defined when it does. A query per table to
    test which exist would double the requests, and retrying without the table after a 400 would parse error
    text. Both Kusto.Language (tests/kql) and duckdb-kql (the sandbox) accept it; the datatable leg comes first
    because duckdb-kql fails to join a let-bound fuzzy union whose first leg is the missing table. The service
    may answer a skipped leg with a warning (`PartialError`); `shared.azure.log_analytics` reads such an answer as
    complete. The types must be the table's own (sandbox/la-schemas.json), or the union would add suffixed
    columns (`RunId_string`)."""
    schema = ", ".join(f"{name}:{kind}" for name, kind in columns)
    return f"union isfuzzy=true (datatable({schema})[]),\n    ({table}\n    {steps})"


def aml_workspace_names_query() -> str:
    """The Azure ML workspaces whose runs logged to a Log Analytics workspace (`rules check --online`: rule
    patterns that match none of them can never fire)."""
    steps = "| distinct WorkspaceName"
    table = optional_table("AmlRunStatusChangedEvent", [("WorkspaceName", "string")], steps)
    return f"{table}\n| where isnotempty(WorkspaceName)\n| distinct WorkspaceName"
