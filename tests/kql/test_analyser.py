"""Proves tools/kql_check (Microsoft's Kusto.Language analyser) catches what it must, and passes what it must.

All analyser-backed cases run in ONE node process (module fixture `reports`); tests only look results up.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from . import analyser
from .analyser import CHECK_SCRIPT, analyse, analyse_detailed, assert_clean

FAILED_RUNS = """\
let window_start = datetime(2026-01-01T00:00:00Z);
let window_end = datetime(2026-01-01T01:00:00Z);
let failed_roots = AmlRunStatusChangedEvent
    | where ingestion_time() > window_start and ingestion_time() <= window_end
    | where Status =~ "Failed"
    | extend Root = iff(isempty(RootRunId), RunId, RootRunId)
    | distinct Root;
AmlRunStatusChangedEvent
| extend Root = iff(isempty(RootRunId), RunId, RootRunId)
| where Root in (failed_roots) and ingestion_time() <= window_end
| summarize arg_max(TimeGenerated, Status, Message, ParentRunId, WorkspaceName, _ResourceId) by RunId, Root
| join kind=leftouter (
    AmlComputeJobEvent
    | where EventType =~ "JobFailed"
    | summarize arg_max(TimeGenerated, JobErrorMessage, ErrorDetails, ExperimentName, ClusterName) by JobName
    | project RunId = JobName, JobErrorMessage, ErrorDetails, ExperimentName, ClusterName
  ) on RunId
| project RunId, ParentRunId, RootRunId = Root, Status, Message, WorkspaceName, _ResourceId, TimeGenerated, \
JobErrorMessage, ErrorDetails, ExperimentName, ClusterName
"""

FAILED_RUNS_COLUMNS = [
    ("RunId", "string"),
    ("ParentRunId", "string"),
    ("RootRunId", "string"),
    ("Status", "string"),
    ("Message", "string"),
    ("WorkspaceName", "string"),
    ("_ResourceId", "string"),
    ("TimeGenerated", "datetime"),
    ("JobErrorMessage", "string"),
    ("ErrorDetails", "string"),
    ("ExperimentName", "string"),
    ("ClusterName", "string"),
]

COMPUTE_DELETE = """\
AzureActivity
| where OperationNameValue in~ ("Microsoft.MachineLearningServices/workspaces/computes/delete")
| summarize arg_max(TimeGenerated, *) by CorrelationId
| project Caller, ActivityStatusValue, _ResourceId, Properties_d
"""


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"fixture text not found: {old!r}"
    return text.replace(old, new, 1)


CLEAN = {
    "failed_runs": FAILED_RUNS,
    "failed_runs_other_window": FAILED_RUNS.replace("2026-01-01T00:00:00Z", "2026-03-31T23:55:00.123456Z").replace(
        "2026-01-01T01:00:00Z", "2026-04-01T00:10:00.000000Z"
    ),
    "failed_runs_status_list": _replace_once(FAILED_RUNS, 'Status =~ "Failed"', 'Status in~ ("Failed", "Canceled")'),
    "failed_runs_workspace_filter": _replace_once(
        FAILED_RUNS,
        '| where Status =~ "Failed"',
        '| where Status =~ "Failed" and WorkspaceName in~ ("ws-prod", "ws-dev") and _ResourceId has "/workspaces/"',
    ),
    "failed_runs_ingestion_bin": (
        "AmlRunStatusChangedEvent\n"
        "| where ingestion_time() > ago(1h)\n"
        "| summarize n = count(), last_ingested = max(ingestion_time()) by bin(TimeGenerated, 5m), Status\n"
    ),
    "compute_delete": COMPUTE_DELETE,
    "compute_delete_multi": COMPUTE_DELETE.replace(
        '("Microsoft.MachineLearningServices/workspaces/computes/delete")',
        '("Microsoft.MachineLearningServices/workspaces/computes/delete",'
        ' "Microsoft.MachineLearningServices/workspaces/computes/write")\n'
        '| where ActivityStatusValue =~ "Success" and tostring(Properties_d.resource) != ""',
    ),
    "cluster_events": (
        "AmlComputeClusterEvent\n"
        '| where TimeGenerated > ago(1d) and ClusterType =~ "AmlCompute"\n'
        "| summarize arg_max(TimeGenerated, CurrentNodeCount, TargetNodeCount, VmSize) by ClusterName, _ResourceId\n"
    ),
}

# name -> (query text, substring the error message must contain, line of that error)
BROKEN = {
    "misspelled_column": (_replace_once(FAILED_RUNS, "where Status =~", "where Statuss =~"), "Statuss", 5),
    "unknown_table": (
        _replace_once(
            FAILED_RUNS, "let failed_roots = AmlRunStatusChangedEvent", "let failed_roots = AmlRunStatusChangedEvents"
        ),
        "AmlRunStatusChangedEvents",
        3,
    ),
    "unknown_function": (
        _replace_once(FAILED_RUNS, "ingestion_time() > window_start", "ingestiontime() > window_start"),
        "ingestiontime",
        4,
    ),
    "column_from_wrong_table": (
        _replace_once(
            FAILED_RUNS, '| where Status =~ "Failed"', '| where Status =~ "Failed" and isnotempty(JobErrorMessage)'
        ),
        "JobErrorMessage",
        5,
    ),
    "unbalanced_parenthesis": (
        _replace_once(FAILED_RUNS, "RunId, RootRunId)\n    | distinct", "RunId, RootRunId\n    | distinct"),
        ")",
        6,
    ),
    "join_key_missing_on_right": (
        _replace_once(FAILED_RUNS, "project RunId = JobName,", "project JobName,"),
        "RunId",
        17,
    ),
    "wrong_argument_type": (
        _replace_once(COMPUTE_DELETE, "| summarize", '| where TimeGenerated > ago("1h")\n| summarize'),
        "timespan",
        3,
    ),
    "empty_query": ("  \n", "empty", 1),
    "two_query_statements": (COMPUTE_DELETE + ";\nAzureActivity | take 10", "2 query expression statements", 1),
}

# Properly escaped literals carrying hostile text: (KQL literal, decoded value the analyser must see).
HOSTILE_LITERALS = {
    "dq_backslash_quote": (r'"a\"b | take 1"', 'a"b | take 1'),
    "sq_backslash_quote": (r"'it\'s | take 1'", "it's | take 1"),
    "dq_single_quote_inside": ('"it\'s | take 1"', "it's | take 1"),
    "sq_double_quote_inside": ("'say \"hi\" | take 1'", 'say "hi" | take 1'),
    "verbatim_dq_doubled_quote": ('@"a""b | take 1"', 'a"b | take 1'),
    "verbatim_sq_doubled_quote": ("@'it''s | take 1'", "it's | take 1"),
    "escaped_backslashes": (r'"C:\\temp\\ | take 1"', "C:\\temp\\ | take 1"),
    "verbatim_backslash": (r'@"C:\temp\ | take 1"', "C:\\temp\\ | take 1"),
    # the escapes shared/core/kql.py:kql_string emits
    "control_chars": (
        r'"line1\nline2\r\t\u0007 \"; AzureActivity | take 1"',
        'line1\nline2\r\t\x07 "; AzureActivity | take 1',
    ),
    "statement_separator": ('"x; AzureActivity | take 1; //"', "x; AzureActivity | take 1; //"),
    "comment_marker": ('"// | take 1 \\n | project"', "// | take 1 \n | project"),
    "multiline_backticks": ("```a\n| take 1\n\"'```", "a\n| take 1\n\"'"),
}

# Badly escaped literals: the analyser must show the query's structure changed (or break).
INJECTED = {
    "unescaped_quote": '"a" | take 1 | where "b"',
    # verbatim strings have no backslash escapes: @"a\" ends at the quote
    "verbatim_with_backslash_escape": r'@"a\" | take 1 | where "b"',
    # a value ending in a backslash that was not escaped swallows the closing quote
    "unescaped_trailing_backslash": r'"C:\temp\" | take 1 | where "x"',
}


def _hostile(literal: str) -> str:
    return _replace_once(FAILED_RUNS, '=~ "Failed"', f"=~ {literal}")


@pytest.fixture(scope="module")
def reports() -> dict[str, analyser.QueryReport]:
    batch: dict[str, str] = dict(CLEAN)
    batch.update({f"broken:{k}": v[0] for k, v in BROKEN.items()})
    batch.update({f"hostile:{k}": _hostile(v[0]) for k, v in HOSTILE_LITERALS.items()})
    batch.update({f"injected:{k}": _hostile(v) for k, v in INJECTED.items()})
    batch["quirk:sql_style_doubled_quote"] = _hostile("'it''s'")
    batch["warning:join_without_kind"] = (
        "AmlRunStatusChangedEvent\n| where Status =~ 'Failed'\n"
        "| join (AmlComputeJobEvent) on $left.RunId == $right.JobName"
    )
    return analyse_detailed(batch)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_realistic_queries_are_clean(reports, name):
    report = reports[name]
    assert report.diagnostics == [], "\n".join(analyser.format_diagnostic(report, d) for d in report.diagnostics)
    assert report.columns, "a tabular query must have a result schema"


def test_failed_runs_result_schema(reports):
    assert reports["failed_runs"].columns == FAILED_RUNS_COLUMNS
    assert reports["failed_runs"].string_literals == ["Failed", "JobFailed"]


def test_compute_delete_result_schema(reports):
    assert reports["compute_delete"].columns == [
        ("Caller", "string"),
        ("ActivityStatusValue", "string"),
        ("_ResourceId", "string"),
        ("Properties_d", "dynamic"),
    ]


def test_ingestion_time_is_a_known_datetime_function(reports):
    cols = dict(reports["failed_runs_ingestion_bin"].columns)
    assert cols["last_ingested"] == "datetime"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_queries_are_reported(reports, name):
    _, needle, line = BROKEN[name]
    errors = reports[f"broken:{name}"].errors
    assert errors, f"{name}: analyser reported nothing"
    assert any(needle in e.message and e.line == line for e in errors), [str(e) for e in errors]


def test_error_positions_point_at_the_offending_token(reports):
    report = reports["broken:misspelled_column"]
    [err] = report.errors
    assert (err.line, err.column, err.code) == (5, 13, "KS142")
    assert report.text[err.start : err.start + err.length] == "Statuss"


@pytest.mark.parametrize("name", sorted(HOSTILE_LITERALS))
def test_escaped_hostile_literal_stays_one_literal(reports, name):
    _, value = HOSTILE_LITERALS[name]
    baseline, report = reports["failed_runs"], reports[f"hostile:{name}"]
    assert report.diagnostics == []
    assert report.operators == baseline.operators
    assert report.columns == baseline.columns
    assert report.string_literals == [value, "JobFailed"]


@pytest.mark.parametrize("name", sorted(INJECTED))
def test_badly_escaped_literal_changes_the_query(reports, name):
    baseline, report = reports["failed_runs"], reports[f"injected:{name}"]
    assert report.errors or report.operators != baseline.operators


def test_quirk_sql_style_doubled_quote_is_concatenation(reports):
    """'it''s' is NOT it's in KQL: adjacent literals 'it' 's' concatenate to "its", silently, with no diagnostic."""
    report = reports["quirk:sql_style_doubled_quote"]
    assert report.diagnostics == []
    assert report.string_literals == ["its", "JobFailed"]


def test_analyse_returns_line_column_messages():
    result = analyse([("ok", COMPUTE_DELETE), ("bad", "AzureActivity\n| where Callr == 'x'")])
    assert result["ok"] == []
    assert result["bad"] == [
        "2:9: The name 'Callr' does not refer to any known column, table, variable or function. [KS142]"
    ]


def test_assert_clean_lists_every_diagnostic():
    with pytest.raises(AssertionError) as exc:
        assert_clean({"clean": COMPUTE_DELETE, "q1": "AzureActivity\n| where Callr == 1", "q2": "Nope | take 1"})
    text = str(exc.value)
    assert "2 problem(s)" in text
    assert "[q1] Error at line 2, column 9" in text and "| where Callr == 1" in text and "^^^^^" in text
    assert "[q2] Error at line 1, column 1" in text and "'Nope'" in text
    assert "[clean]" not in text


def test_duplicate_names_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        analyse([("a", "print 1"), ("a", "print 2")])


def test_missing_npm_package_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.setattr(analyser, "NPM_PACKAGE_DIR", tmp_path / "absent")
    with pytest.raises(RuntimeError, match="npm ci"):
        analyse([("q", "print 1")])


def test_missing_node_fails_loudly(monkeypatch):
    monkeypatch.delenv("KQL_CHECK_NODE", raising=False)
    monkeypatch.setattr(analyser.shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match="node"):
        analyse([("q", "print 1")])


def test_bad_schema_type_fails_loudly(tmp_path):
    schemas = tmp_path / "schemas.json"
    schemas.write_text(json.dumps({"T": [["A", "strng"]]}))
    with pytest.raises(RuntimeError, match="unknown Kusto type"):
        analyse([("q", "T")], schemas_path=schemas)


def test_cli_exit_codes():
    payload = {"schemas": {"T": [["A", "string"]]}, "queries": [{"name": "q", "text": "T | where B == 1"}]}
    node = analyser._node()
    ok = subprocess.run(
        [node, str(CHECK_SCRIPT)], check=False, input=json.dumps(payload), capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    [result] = json.loads(ok.stdout)["results"]
    assert result["diagnostics"][0]["severity"] == "Error" and result["diagnostics"][0]["code"] == "KS142"
    bad = subprocess.run([node, str(CHECK_SCRIPT)], check=False, input="not json", capture_output=True, text=True)
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def test_warnings_are_reported_but_do_not_fail(reports):
    report = reports["warning:join_without_kind"]
    assert report.errors == []
    assert [(d.code, d.source, d.line) for d in report.warnings] == [("KS508", "kusto-analyzer", 3)]
    reports_ok = assert_clean([("w", report.text), ("clean", COMPUTE_DELETE)])
    assert reports_ok["w"].warnings
    with pytest.raises(AssertionError, match=r"\[w\] Warning at line 3, column 3"):
        assert_clean([("w", report.text)], fail_on_warnings=True)
