"""Routes choose email, Teams or both: `channel: email` (one), `channels: [email, teams:<destination>]` (several),
each Teams destination named by its TEAMS_WEBHOOK_<NAME> setting; a mistake names the file, line and field."""

from __future__ import annotations

import pytest

from shared.channels import route_targets
from shared.routing import Destination, destinations_for
from shared.rules import RulesError
from shared.rules_yaml import parse_rules
from shared.settings import Settings, SettingsError

TARGETS = ("email", "teams:ml-oncall", "teams:data-team")
DEFAULT = ("oncall@contoso.com",)
ROUTES = """routes:
  - match: {kind: stuck-run}
    channels: [email, teams:ml-oncall, teams:data-team]
    recipients: [ml@contoso.com]
  - match: {kind: missed-schedule}
    channels: [teams:data-team]
  - match: {kind: metric}
    channel: email
    recipients: [drift@contoso.com]
"""


def test_a_route_sends_to_each_of_its_targets_in_order():
    routes = parse_rules(ROUTES, channels=TARGETS).routes
    assert destinations_for({"kind": "stuck-run"}, routes, DEFAULT) == (
        Destination("email", ("ml@contoso.com",)),
        Destination("teams", ("ml-oncall",)),
        Destination("teams", ("data-team",)),
    )
    assert destinations_for({"kind": "missed-schedule"}, routes, DEFAULT) == (Destination("teams", ("data-team",)),)
    assert destinations_for({"kind": "metric"}, routes, DEFAULT) == (Destination("email", ("drift@contoso.com",)),)
    assert destinations_for({"kind": "alert"}, routes, DEFAULT) == (Destination("email", DEFAULT),)
    assert [d.target for d in destinations_for({"kind": "stuck-run"}, routes, DEFAULT)] == [
        "email",
        "teams:ml-oncall",
        "teams:data-team",
    ]


@pytest.mark.parametrize(
    ("route", "error"),
    [
        ("channels: [teams:nobody]", "routes[0].channels: Value error, 'teams:nobody' is not a channel: use one of"),
        (
            "channel: email\n    channels: [email]\n    recipients: [a@contoso.com]",
            "give channel or channels, not both",
        ),
        ("channels: [email, teams:ml-oncall]", "routes[0]: Value error, email needs recipients"),
        ("channels: [teams:ml-oncall, teams:ml-oncall]", "a target is listed twice"),
    ],
)
def test_a_bad_route_is_reported_with_its_line(route, error):
    with pytest.raises(RulesError) as raised:
        parse_rules(f"routes:\n  - match: {{kind: alert}}\n    {route}\n", "team/rules.yaml", TARGETS)
    assert "team/rules.yaml:" in str(raised.value) and error in str(raised.value)


def _settings(**teams: str) -> Settings:
    env = {
        "LOG_ANALYTICS_WORKSPACE_IDS": "00000000-0000-0000-0000-000000000001",
        "ACS_ENDPOINT": "https://acs.europe.communication.azure.com",
        "EMAIL_SENDER": "alerts@contoso.com",
        "EMAIL_RECIPIENTS": "oncall@contoso.com",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        **teams,
    }
    return Settings.from_environ(env)


def test_the_targets_a_route_may_name_come_from_the_teams_settings():
    url = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cret"
    assert route_targets(_settings(TEAMS_WEBHOOK_ML_ONCALL=url)) == ("email", "teams:ml-oncall")
    assert "s3cret" not in repr(_settings(TEAMS_WEBHOOK_ML_ONCALL=url))


def test_a_bad_teams_setting_is_named_without_its_url():
    with pytest.raises(SettingsError) as raised:
        route_targets(_settings(TEAMS_WEBHOOK_OPS="https://evil.example.com/hook?sig=s3cret"))
    assert "TEAMS_WEBHOOK_OPS" in str(raised.value) and "s3cret" not in str(raised.value)
