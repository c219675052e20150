"""Secure Webhook: validate the Entra ID bearer token an action group sends (WEBHOOK_AUTH=entra).

The action group gets its token from the shared "AzNS AAD Webhook" application, which must hold the app role
`ActionGroupsSecureWebhook` of your app registration. Checked here: RS256 signature against Entra's published
keys (fetched lazily, cached), issuer (v1 or v2 endpoint of your tenant), audience (your app id URI or client
id), expiry, the caller's app id, and the role. Because the AzNS principal is shared by every action group in
the tenant, also restrict the alert's targets with WEBHOOK_ALLOWED_SCOPES.
"""

from __future__ import annotations

import threading
from typing import Any

AZNS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"  # the "AzNS AAD Webhook" application (Microsoft)
REQUIRED_ROLE = "ActionGroupsSecureWebhook"
LEEWAY_SECONDS = 120  # clock skew between Entra and this app


class AuthError(Exception):
    """The request is not authenticated (401), not authorised (403), or keys are unreachable (503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SecureWebhook:
    def __init__(self, tenant_id: str, audience: str, *, jwks_url: str | None = None,
                 app_id: str = AZNS_APP_ID) -> None:
        self._tenant_id = tenant_id.lower()
        self._audiences = [audience] + ([f"api://{audience}"] if not audience.startswith("api://") else [])
        self._issuers = [f"https://sts.windows.net/{self._tenant_id}/",
                         f"https://login.microsoftonline.com/{self._tenant_id}/v2.0"]
        self._jwks_url = jwks_url or f"https://login.microsoftonline.com/{self._tenant_id}/discovery/v2.0/keys"
        self._app_id = app_id
        self._client: Any = None
        self._lock = threading.Lock()

    def _keys(self):
        with self._lock:
            if self._client is None:
                import jwt

                # Keys are cached for an hour; an unknown key id (Entra rolled its keys) triggers one refetch.
                self._client = jwt.PyJWKClient(self._jwks_url, cache_keys=True, lifespan=3600, timeout=5)
            return self._client

    def validate(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or AuthError."""
        import jwt

        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "A Secure Webhook bearer token is required (Authorization: Bearer <token>).")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise AuthError(401, f"The bearer token is malformed: {err}.") from None
        if header.get("alg") != "RS256":
            raise AuthError(401, "The bearer token must be signed with RS256.")
        try:
            key = self._keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as err:
            raise AuthError(503, f"Entra ID signing keys could not be fetched: {err}") from None
        except (jwt.PyJWKClientError, jwt.PyJWTError) as err:
            raise AuthError(401, f"The bearer token's signing key is not one of the tenant's keys: {err}.") from None
        try:
            claims = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self._audiences, issuer=self._issuers,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as err:
            raise AuthError(401, f"The bearer token is not valid: {err}.") from None
        caller = claims.get("appid") or claims.get("azp")
        if caller != self._app_id:
            raise AuthError(403, "The token was not issued to the AzNS AAD Webhook application used by action "
                                 "groups.")
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or REQUIRED_ROLE not in roles:
            raise AuthError(403, f"The token lacks the app role {REQUIRED_ROLE!r}; assign it to the AzNS AAD "
                                 "Webhook service principal.")
        return claims
