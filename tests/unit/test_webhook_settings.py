"""Webhook settings: safe defaults, and Secure Webhook mode cannot be switched on half-configured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.settings import Settings, SettingsError
from tests.unit.test_settings import VALID


def test_defaults_are_the_function_key_and_no_allow_list():
    settings = Settings.from_environ(VALID)
    assert (settings.webhook_auth, settings.webhook_allowed_scopes) == ("function-key", ())
    assert settings.enrichment_margin == timedelta(minutes=15)


def test_entra_mode_needs_tenant_and_audience():
    with pytest.raises(SettingsError) as error:
        Settings.from_environ({**VALID, "WEBHOOK_AUTH": "entra"})
    assert "WEBHOOK_TENANT_ID is required when WEBHOOK_AUTH=entra" in str(error.value)
    assert "WEBHOOK_AUDIENCE is required when WEBHOOK_AUTH=entra" in str(error.value)


def test_allowed_scopes_take_subscription_ids_and_resource_id_prefixes():
    settings = Settings.from_environ({**VALID, "WEBHOOK_ALLOWED_SCOPES":
                                      "00000000-0000-0000-0000-0000000000AA, /subscriptions/"
                                      "00000000-0000-0000-0000-0000000000bb/resourceGroups/RG-ML/"})
    assert settings.webhook_allowed_scopes == ("/subscriptions/00000000-0000-0000-0000-0000000000aa",
                                               "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourcegroups/rg-ml")
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOWED_SCOPES='my-sub' is invalid"):
        Settings.from_environ({**VALID, "WEBHOOK_ALLOWED_SCOPES": "my-sub"})


def test_the_audience_takes_the_application_id_uri_and_the_client_id():
    client_id = "11111111-2222-3333-4444-555555555555"
    settings = Settings.from_environ({**VALID, "WEBHOOK_AUDIENCE": f"api://aml-alerts, {client_id}"})
    assert settings.webhook_audiences == ("api://aml-alerts", client_id)
    with pytest.raises(SettingsError, match="WEBHOOK_AUDIENCE='aml alerts' is invalid: expected the application id"):
        Settings.from_environ({**VALID, "WEBHOOK_AUDIENCE": "aml alerts"})
