"""Teams destinations from `TEAMS_WEBHOOK_<NAME>` settings: names, accepted URLs, errors that never show a URL."""

from __future__ import annotations

import pytest

from shared.channels.teams.destinations import (
    TeamsDestination,
    TeamsSettingsError,
    setting_name,
    teams_destinations,
    webhook_url_problem,
)

SIG = "Zm9vYmFyLXNlY3JldC1zaWduYXR1cmU"
QUERY = f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
POWER_PLATFORM = (
    "https://default0000aaaa.bb.environment.api.powerplatform.com:443/powerautomate/automations/direct"
    f"/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke{QUERY}"
)
LOGIC_APPS = f"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke{QUERY}"
SANDBOX = f"https://127.0.0.1:8443/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke{QUERY}"


def test_each_setting_is_a_destination_named_in_lower_case_with_hyphens() -> None:
    found = teams_destinations(
        {
            "TEAMS_WEBHOOK_ML_ONCALL": POWER_PLATFORM,
            "TEAMS_WEBHOOK_DATA": LOGIC_APPS,
            "EMAIL_RECIPIENTS": "a@example.org",
        }
    )
    assert sorted(found) == ["data", "ml-oncall"]
    assert found["ml-oncall"] == TeamsDestination("ml-oncall", "TEAMS_WEBHOOK_ML_ONCALL", POWER_PLATFORM)
    assert found["ml-oncall"].host == "default0000aaaa.bb.environment.api.powerplatform.com"
    assert setting_name("ml-oncall") == "TEAMS_WEBHOOK_ML_ONCALL"


def test_the_url_is_kept_out_of_repr() -> None:
    found = teams_destinations({"TEAMS_WEBHOOK_ML_ONCALL": POWER_PLATFORM})
    assert SIG not in repr(found) and "powerplatform" not in repr(found)


def test_no_setting_no_destination() -> None:
    assert teams_destinations({"ACS_ENDPOINT": "https://x"}) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "is empty"),
        ("@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/teams/)", "unresolved Key Vault reference"),
        (POWER_PLATFORM.replace("https://", "http://"), "must be an https URL"),
        (POWER_PLATFORM.replace(".powerplatform.com", ".powerplatform.com.evil.net"), "not a Workflows webhook host"),
        (f"https://evil.net/powerautomate/x{QUERY}", "is on evil.net, not a Workflows webhook host"),
        (f"https://contoso.webhook.office.com/webhookb2/x/IncomingWebhook/y/z{QUERY}", "connectors are retired"),
        (LOGIC_APPS.replace(":443", ":8443"), "port 443"),
        (LOGIC_APPS.split("&sig=", maxsplit=1)[0], "has no sig= parameter"),
        (LOGIC_APPS.replace("https://", "https://user:pw@"), "user name, password"),
        (SANDBOX, "only the local sandbox may use"),
        ("https://[::1", "is not a URL"),
    ],
)
def test_bad_urls_are_named_by_their_setting_without_the_url(value: str, expected: str) -> None:
    with pytest.raises(TeamsSettingsError) as caught:
        teams_destinations({"TEAMS_WEBHOOK_ONCALL": value})
    message = str(caught.value)
    assert message.startswith("Invalid Teams settings:\n  TEAMS_WEBHOOK_ONCALL: ")
    assert expected in message
    assert SIG not in message and "/workflows/" not in message and "SecretUri" not in message


def test_every_bad_setting_is_listed() -> None:
    with pytest.raises(TeamsSettingsError) as caught:
        teams_destinations(
            {
                "TEAMS_WEBHOOK_A": "",
                "TEAMS_WEBHOOK_B": LOGIC_APPS,
                "TEAMS_WEBHOOK_C": "http://x",
                "TEAMS_WEBHOOK_BAD-NAME": LOGIC_APPS,
                "TEAMS_WEBHOOK_": LOGIC_APPS,
            }
        )
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "TEAMS_WEBHOOK_",
        "TEAMS_WEBHOOK_A",
        "TEAMS_WEBHOOK_BAD-NAME",
        "TEAMS_WEBHOOK_C",
    ]


def test_two_settings_for_one_name_are_refused() -> None:
    with pytest.raises(TeamsSettingsError, match="destination 'ml-oncall' is also set by TEAMS_WEBHOOK_ML_ONCALL"):
        teams_destinations({"TEAMS_WEBHOOK_ML_ONCALL": LOGIC_APPS, "teams_webhook_ml_oncall": POWER_PLATFORM})


def test_the_sandbox_on_loopback_only_when_allowed() -> None:
    assert teams_destinations({"TEAMS_WEBHOOK_ONCALL": SANDBOX}, allow_loopback=True)["oncall"].url == SANDBOX
    assert webhook_url_problem(SANDBOX.replace("127.0.0.1", "localhost"), allow_loopback=True) is None
    assert webhook_url_problem(SANDBOX.replace("127.0.0.1", "10.0.0.1"), allow_loopback=True) is not None


@pytest.mark.parametrize("name", ["ML-Oncall", "ml_oncall", "-x", "x--y", ""])
def test_route_names_that_no_setting_can_hold_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not a Teams destination name"):
        setting_name(name)
