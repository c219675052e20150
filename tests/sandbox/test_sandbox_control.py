"""The /_sandbox/ control API, and ``python -m sandbox`` as a separate process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryClient

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox

ROOT = Path(__file__).resolve().parents[2]
OTHER_WORKSPACE = "44444444-4444-4444-4444-444444444444"
RawCall = Callable[..., tuple[int, Any]]


def test_control_api_drives_the_sandbox(sb: Sandbox, logs: LogsQueryClient, raw: RawCall) -> None:
    def post(action: str, body: Any = None) -> Any:
        status, answer = raw("POST", f"/_sandbox/{action}", body or {})
        assert status == 200, answer
        return answer

    post("clock", {"now": "2026-03-01T00:00:00Z"})
    post("advance", {"seconds": 90})
    assert sb.now.isoformat() == "2026-03-01T00:01:30+00:00"
    post("rows", {"table": "AzureActivity", "rows": [{"TimeGenerated": "2026-03-01T00:00:00Z", "Caller": "c"}]})
    post(
        "metrics",
        {
            "resource_id": "/subscriptions/s/r",
            "namespace": "n",
            "metric": "m",
            "points": [["2026-03-01T00:00:00Z", 1]],
            "dimensions": {"D": "v"},
        },
    )
    result = logs.query_workspace(DEFAULT_WORKSPACE_ID, "AzureActivity | project Caller", timespan=None)
    assert [list(row) for row in result.tables[0].rows] == [["c"]]
    post("faults", {"service": "logs", "status": 503})
    with pytest.raises(HttpResponseError):
        logs.query_workspace(DEFAULT_WORKSPACE_ID, "AzureActivity", timespan=None)
    assert raw("GET", "/_sandbox/emails") == (200, [])
    assert raw("GET", "/_sandbox/queries")[1][0]["query"] == "AzureActivity | project Caller"
    post("faults", {"workspace_id": DEFAULT_WORKSPACE_ID, "status": 429, "retry_after": 30, "count": 1})
    with pytest.raises(HttpResponseError) as throttled:
        logs.query_workspace(DEFAULT_WORKSPACE_ID, "AzureActivity", timespan=None)
    assert (throttled.value.status_code, throttled.value.response.headers["Retry-After"]) == (429, "30")
    post("workspaces", {"workspace_id": OTHER_WORKSPACE})
    post("faults", {"service": "logs", "status": 503})
    post("reset")
    with pytest.raises(HttpResponseError) as absent:  # its rows are gone: the table does not exist any more
        logs.query_workspace(DEFAULT_WORKSPACE_ID, "AzureActivity", timespan=None)
    assert "SEM0100" in str(absent.value)
    other = logs.query_workspace(OTHER_WORKSPACE, "print x = 1", timespan=None)  # exists, though it has no rows
    assert [list(row) for row in other.tables[0].rows] == [[1]]
    assert sb.now.isoformat() == "2026-03-01T00:01:30+00:00"


def test_control_api_rejects_bad_input(raw: RawCall) -> None:
    status, body = raw("POST", "/_sandbox/rows", {"table": "AzureActivity", "rows": [{"Nope": 1}]})
    assert status == 400
    assert "Nope" in body["error"]["message"]


def test_cli_serves_seed_and_stops_on_sigterm(
    tmp_path: Path, credential: TokenCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "clock": "2026-01-02T12:00:00Z",
                "tables": {
                    "AmlRunStatusChangedEvent": [
                        {"RunId": "P1", "Status": "Failed", "TimeGenerated": "2026-01-02T11:00:00Z"}
                    ]
                },
                "metrics": [
                    {
                        "resource_id": "/subscriptions/s/r",
                        "namespace": "n",
                        "metric": "m",
                        "points": [["2026-01-02T11:00:00Z", 1]],
                    }
                ],
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--seed", str(seed), "--state-dir", str(tmp_path / "st")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        env = {}
        for line in process.stdout:
            if line.startswith("export "):
                name, value = line.removeprefix("export ").strip().split("=", 1)
                env[name] = value
            if line.startswith("Ctrl-C"):
                break
        assert env["AZURE_CREDENTIAL"] == "emulator"
        assert env["REQUESTS_CA_BUNDLE"] == str(tmp_path / "st" / "ca.pem")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", env["REQUESTS_CA_BUNDLE"])
        client = LogsQueryClient(credential, endpoint=env["LOG_ANALYTICS_ENDPOINT"], retry_total=0)
        result = client.query_workspace(
            DEFAULT_WORKSPACE_ID, "AmlRunStatusChangedEvent | project RunId, Status", timespan=None
        )
        assert [list(row) for row in result.tables[0].rows] == [["P1", "Failed"]]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "Sandbox stopped." in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
