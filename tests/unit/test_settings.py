"""Settings: validated once, and an error names each bad setting and what it expects."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.app import ALL_SETTINGS
from shared.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
VALID = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "LOG_ANALYTICS_WORKSPACE_IDS": "11111111-1111-1111-1111-111111111111, 22222222-2222-2222-2222-222222222222",
    "ACS_ENDPOINT": "https://my-acs.europe.communication.azure.com/",
    "EMAIL_SENDER": "DoNotReply@contoso.com",
    "EMAIL_RECIPIENTS": "a@contoso.com; b@contoso.com",
}


def test_valid_settings_with_defaults():
    settings = Settings.from_environ(VALID)
    assert settings.workspace_ids == ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
    assert settings.acs_endpoint == "https://my-acs.europe.communication.azure.com"
    assert settings.email_recipients == ("a@contoso.com", "b@contoso.com")
    assert settings.log_analytics_endpoint == "https://api.loganalytics.io"
    assert settings.scan_overlap == timedelta(minutes=15)
    assert settings.credential_kind == "default"
    assert settings.state_storage.connection_string == "UseDevelopmentStorage=true"


def test_identity_based_storage_uses_the_account_table_endpoint():
    env = {**VALID, "AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": "stalerts01"}
    assert Settings.from_environ(env).state_storage.table_endpoint == "https://stalerts01.table.core.windows.net"


def test_every_problem_is_named_at_once():
    env = {
        **VALID,
        "LOG_ANALYTICS_WORKSPACE_IDS": "my-workspace",
        "SCAN_OVERLAP_MINUTES": "soon",
        "ACS_ENDPOINT": "http://insecure",
        "EMAIL_RECIPIENTS": "",
    }
    with pytest.raises(SettingsError) as error:
        Settings.from_environ(env)
    message = str(error.value)
    assert "LOG_ANALYTICS_WORKSPACE_IDS='my-workspace' is invalid: expected comma-separated workspace GUIDs" in message
    assert "SCAN_OVERLAP_MINUTES='soon' is invalid: expected a whole number from 0 to 1440" in message
    assert "ACS_ENDPOINT='http://insecure' is invalid: expected an https:// URL" in message
    assert "EMAIL_RECIPIENTS is not set (comma-separated email addresses expected)" in message


def test_retention_cannot_be_shorter_than_a_week():
    with pytest.raises(SettingsError, match="RETENTION_DAYS='2' is invalid"):
        Settings.from_environ({**VALID, "RETENTION_DAYS": "2"})


def test_the_sample_settings_file_lists_every_setting_and_is_valid():
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert set(ALL_SETTINGS) <= set(values)
    Settings.from_environ(values)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "*/5 * * * *",
            "RUN_FAILURES_SCHEDULE='*/5 * * * *' is invalid: a 5-field cron; the Functions timer reads NCRONTAB, "
            "6 fields with seconds first ({second} {minute} {hour} {day} {month} {day-of-week}): use '0 */5 * * * *'",
        ),
        ("0 61 * * * *", "RUN_FAILURES_SCHEDULE='0 61 * * * *' is invalid: minute field '61' is not NCRONTAB"),
        ("every 5 minutes", "RUN_FAILURES_SCHEDULE='every 5 minutes' is invalid: expected NCRONTAB, 6 fields"),
    ],
)
def test_a_timer_schedule_must_be_six_field_ncrontab(schedule, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ({**VALID, "RUN_FAILURES_SCHEDULE": schedule})
    assert message in str(raised.value)


def test_the_sample_schedules_are_valid_ncrontab():
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    schedules = {name: value for name, value in sample.items() if name.endswith("_SCHEDULE")}
    assert len(schedules) >= 4
    Settings.from_environ({**VALID, **schedules})
