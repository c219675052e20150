"""Which Azure credential the app uses: managed identity in Azure, a static token for local emulators."""

from __future__ import annotations

import time
from typing import Any


class EmulatorCredential:
    """For the local sandbox (AZURE_CREDENTIAL=emulator): emulators check that a bearer token is present, not
    what it says. Never valid against Azure."""

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken("local-emulator", int(time.time()) + 3600)


def azure_credential(kind: str) -> Any:
    if kind == "emulator":
        return EmulatorCredential()
    from azure.identity import DefaultAzureCredential

    # Picks up the user-assigned managed identity from AZURE_CLIENT_ID in Azure, and `az login` on a laptop.
    return DefaultAzureCredential()
