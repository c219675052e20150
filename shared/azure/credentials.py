"""Which Azure credential the app uses (AZURE_CREDENTIAL):

- `managed-identity` (what infra/ deploys): the Function App's user-assigned managed identity, named by its client
  id (AZURE_CLIENT_ID). Nothing else is tried, so in Azure a missing role or identity fails loudly instead of the
  app quietly running as some other identity found on the machine.
- `default`: DefaultAzureCredential, for local runs (`az login`, VS Code, environment variables ...).
- `emulator`: a static token for the local sandbox only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential


class EmulatorCredential:
    """For the local sandbox (AZURE_CREDENTIAL=emulator): emulators check that a bearer token is present, not
    what it says. Never valid against Azure."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken("local-emulator", int(time.time()) + 3600)


def signed_in_name(credential: TokenCredential, scope: str = "https://storage.azure.com/.default") -> str | None:
    """Who a developer credential is signed in as (`az login`): the user name claim of its token, read without
    checking the signature (it is our own token, used only to label what that person adds). None when the token
    is not a JWT or names nobody."""
    import base64
    import json

    try:
        payload = credential.get_token(scope).token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return None
    for claim in ("upn", "preferred_username", "unique_name", "email", "name"):
        if isinstance(claims.get(claim), str) and claims[claim]:
            return str(claims[claim])
    return None


def azure_credential(kind: str, client_id: str | None = None) -> TokenCredential:
    if kind == "emulator":
        return EmulatorCredential()
    if kind == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        # client_id is keyword-only (azure-identity 1.27: ManagedIdentityCredential(*, client_id=None, ...));
        # without it a user-assigned identity is not selected and the platform's default identity is asked.
        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
