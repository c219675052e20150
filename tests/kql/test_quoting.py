"""`kql_string` makes any value one KQL string literal: Kusto.Language decodes it back to the same value and sees
no extra operators, and duckdb-kql (the sandbox's engine) compares it as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb_kql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.kql import kql_datetime, kql_string, kql_string_list

from .analyser import analyse_detailed

HOSTILE = [
    'run" | take 1 //',
    "run' or 1==1 //",
    "back\\slash\\",
    "line\nbreak | where true",
    "tab\tand\rreturn",
    "}; AmlComputeJobEvent | take 10",
    "unicode ünïcødé ✓ \u2028 \x00\x1f\x7f",
    "",
]


def _query(literal: str) -> str:
    return f"AmlRunStatusChangedEvent | where RunId == {literal} | project RunId"


def test_hostile_values_stay_one_literal_for_kusto():
    reports = analyse_detailed([(f"q{i}", _query(kql_string(v))) for i, v in enumerate(HOSTILE)])
    for i, value in enumerate(HOSTILE):
        report = reports[f"q{i}"]
        assert report.errors == [], (value, report.errors)
        assert report.string_literals == [value]
        assert report.operators == ["FilterOperator", "ProjectOperator"]


# duckdb-kql does not decode \uXXXX escapes (Kusto does, see the test above), so other control characters
# are left to the Kusto check.
_DUCKDB_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\n\r\t"), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(_DUCKDB_TEXT)
def test_any_value_round_trips_through_duckdb_kql(value):
    con = duckdb_kql.connect()
    con.sql("CREATE TABLE T (RunId VARCHAR)")
    con.execute("INSERT INTO T VALUES (?), ('other')", [value])
    rows = duckdb_kql.query(con, f"T | where RunId == {kql_string(value)} | project RunId").fetchall()
    assert rows == [(value,)]


def test_lists_and_empty_lists():
    assert kql_string_list(["a", 'b"']) == '("a", "b\\"")'
    assert kql_string_list([]) == '("")'


def test_datetimes_are_utc_and_must_be_aware():
    moment = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert kql_datetime(moment) == "datetime(2026-03-01T12:00:00.000000Z)"
    assert kql_datetime(datetime(2026, 3, 1, tzinfo=UTC)) == "datetime(2026-03-01T00:00:00.000000Z)"
    with pytest.raises(ValueError, match="timezone-aware"):
        kql_datetime(datetime(2026, 3, 1))
