"""The silence commands with the storage setting alone (no Log Analytics, ACS or recipients: what on-call has),
against Azurite: who added each silence and why is stored and listed, only the `silences` table is touched."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from shared import cli
from shared.app import ALL_SETTINGS


@pytest.fixture
def storage_only(monkeypatch: pytest.MonkeyPatch, azurite_connection_string: str) -> TableServiceClient:
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for table in service.list_tables():
        service.delete_table(table.name)
    for name in [*ALL_SETTINGS, "RULES_FILE"]:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("AzureWebJobsStorage", azurite_connection_string)
    return service


def test_a_silence_records_who_added_it_and_why(storage_only, monkeypatch, capsys):
    add = ["silence", "add", "--match", "workspace=ws-scratch", "--for", "4h", "--reason", "load test, INC-1234"]
    assert cli.main([*add, "--author", "alice@contoso.com"]) == 0
    monkeypatch.setenv("LOGNAME", "bob")  # no --author: the local user (a connection string names no identity)
    assert cli.main(["silence", "add", "--match", "kind=metric", "--for", "30m", "--reason", "drift backfill"]) == 0
    capsys.readouterr()

    assert cli.main(["silence", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert listed[0].endswith("[kind=metric] until " + listed[0].split(" until ")[1].split(" UTC")[0] + " UTC: "
                              "drift backfill (by bob)")  # fmt: skip
    assert "[workspace=ws-scratch]" in listed[1] and listed[1].endswith(": load test, INC-1234 (by alice@contoso.com)")
    assert [t.name for t in storage_only.list_tables()] == ["silences"]  # nothing else was asked for


def test_a_silence_needs_a_reason(storage_only, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["silence", "add", "--match", "workspace=ws-scratch", "--for", "4h"])
    assert exited.value.code == 2
    assert "--reason" in capsys.readouterr().err


def test_without_the_storage_setting_it_says_which_setting(storage_only, monkeypatch, capsys):
    monkeypatch.delenv("AzureWebJobsStorage")
    assert cli.main(["silence", "list"]) == 2
    err = capsys.readouterr().err
    assert "AzureWebJobsStorage is not set" in err and "Traceback" not in err
