"""Which partial answers of Log Analytics are complete: only warnings that a fuzzy union skipped a table."""

from __future__ import annotations

from shared.azure.log_analytics import _absent_tables


def _detail(message: str, severity: str = "Warning") -> dict:
    return {
        "code": "EngineError",
        "message": "Something went wrong processing your query on the server.",
        "innererror": {"code": "-2133196790", "message": message, "severity": 3, "severityName": severity},
    }


def test_warnings_about_skipped_tables_name_the_tables():
    details = [
        _detail("'union' operator: Failed to resolve table expression named 'AmlComputeJobEvent'"),
        _detail("Failed to resolve table expression named 'AzureActivity'"),
    ]
    assert _absent_tables(details) == ("AmlComputeJobEvent", "AzureActivity")


def test_any_other_detail_makes_the_answer_partial():
    skipped = _detail("'union' operator: Failed to resolve table expression named 'AmlComputeJobEvent'")
    assert (
        _absent_tables([skipped, _detail("Query result set has exceeded the internal record count limit", "Error")])
        == ()
    )
    assert _absent_tables([_detail("Failed to resolve table expression named 'T'", "Error")]) == ()
    assert _absent_tables([{"code": "EngineError", "innererror": {"code": "LimitsExceeded"}}]) == ()
    assert _absent_tables([]) == () and _absent_tables(None) == ()
