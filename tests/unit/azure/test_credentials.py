"""Which credential the app builds for each AZURE_CREDENTIAL value, and that in Azure it asks for the
user-assigned identity by its client id.

No Azure and no network: the managed-identity token request goes to a loopback stand-in for the identity
endpoint that App Service and Functions give every app (IDENTITY_ENDPOINT + IDENTITY_HEADER, the protocol
azure-identity speaks there), so the test sees the real request the SDK sends.
"""

from __future__ import annotations

import json
import time

import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from pytest_httpserver import HTTPServer

from shared.app import AlertingApp
from shared.azure.credentials import EmulatorCredential
from shared.settings import Settings, SettingsError

CLIENT_ID = "7e4c8a51-2f0b-4d6e-9a3c-1b2d3e4f5a6b"
BASE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "LOG_ANALYTICS_WORKSPACE_IDS": "11111111-1111-1111-1111-111111111111",
    "ACS_ENDPOINT": "https://my-acs.europe.communication.azure.com",
    "EMAIL_SENDER": "DoNotReply@contoso.com",
    "EMAIL_RECIPIENTS": "oncall@contoso.com",
}


def _credential(**settings: str):
    return AlertingApp(Settings.from_environ({**BASE, **settings})).credential


@pytest.fixture(autouse=True)
def _no_ambient_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
    ):
        monkeypatch.delenv(name, raising=False)


def test_in_azure_the_user_assigned_managed_identity_and_nothing_else() -> None:
    credential = _credential(AZURE_CREDENTIAL="managed-identity", AZURE_CLIENT_ID=CLIENT_ID)
    # Exactly the managed identity: not a chain that could fall back to a developer's sign-in.
    assert type(credential) is ManagedIdentityCredential


def test_the_token_request_names_the_identity_by_its_client_id(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", httpserver.url_for("/msi/token"))
    monkeypatch.setenv("IDENTITY_HEADER", "header-secret")
    httpserver.expect_request("/msi/token").respond_with_data(
        json.dumps(
            {
                "access_token": "token-for-the-app",
                "expires_on": str(int(time.time()) + 3600),
                "resource": "https://api.loganalytics.io",
                "token_type": "Bearer",
            }
        ),
        content_type="application/json",
    )
    credential = _credential(AZURE_CREDENTIAL="managed-identity", AZURE_CLIENT_ID=CLIENT_ID)

    token = credential.get_token("https://api.loganalytics.io/.default")

    assert token.token == "token-for-the-app"
    (request, _response), *_ = httpserver.log
    assert request.args.get("client_id") == CLIENT_ID
    assert request.args.get("resource") == "https://api.loganalytics.io"
    assert request.headers.get("X-IDENTITY-HEADER") == "header-secret"


def test_managed_identity_without_a_client_id_is_refused_at_startup() -> None:
    with pytest.raises(SettingsError, match="AZURE_CLIENT_ID is required when AZURE_CREDENTIAL=managed-identity"):
        Settings.from_environ({**BASE, "AZURE_CREDENTIAL": "managed-identity"})
    with pytest.raises(SettingsError, match="AZURE_CLIENT_ID='my-identity' is invalid: expected a GUID"):
        Settings.from_environ({**BASE, "AZURE_CREDENTIAL": "managed-identity", "AZURE_CLIENT_ID": "my-identity"})


def test_locally_default_azure_credential() -> None:
    assert type(_credential()) is DefaultAzureCredential
    assert type(_credential(AZURE_CREDENTIAL="default")) is DefaultAzureCredential


def test_the_sandbox_gets_a_static_token() -> None:
    assert type(_credential(AZURE_CREDENTIAL="emulator")) is EmulatorCredential


def test_an_unknown_credential_kind_is_named() -> None:
    with pytest.raises(SettingsError, match="AZURE_CREDENTIAL='msi' is invalid: expected one of managed-identity"):
        Settings.from_environ({**BASE, "AZURE_CREDENTIAL": "msi"})
