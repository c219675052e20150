"""Secure Webhook: validate the Entra ID bearer token an action group sends (WEBHOOK_AUTH=entra).

The action group gets its token from the shared "AzNS AAD Webhook" application, which must hold the app role
`ActionGroupsSecureWebhook` of your app registration. Checked here: RS256 signature against Entra's published
keys (fetched lazily, cached), issuer (v1 or v2 endpoint of your tenant), audience, expiry, the caller's app id,
and the role. Because the AzNS principal is shared by every action group in the tenant, also restrict the alert's
targets with WEBHOOK_ALLOWED_SCOPES.

Audience: a v1 token (the app registration's default, `accessTokenAcceptedVersion` null or 1) carries the
application id URI, a v2 token the client id. WEBHOOK_AUDIENCE lists either or both; the default URI form
`api://<client id>` and the bare client id stand for each other, so either one of those covers both versions.

Signing keys: while Entra's key endpoint hangs or answers something that is not a key set (an HTML error page with
200), one request waits for it (KEYS_TIMEOUT) and every request for the next KEYS_RETRY_SECONDS gets a 503 at once,
without fetching again: Azure retries a 503.
"""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

AZNS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"  # the "AzNS AAD Webhook" application (Microsoft)
REQUIRED_ROLE = "ActionGroupsSecureWebhook"
LEEWAY_SECONDS = 120  # clock skew between Entra and this app
KEYS_TIMEOUT = 3.0  # seconds one fetch of the signing keys may take (part of the webhook's request budget)
KEYS_RETRY_SECONDS = 10.0  # after a failed fetch, answer 503 without fetching for this long
_CLIENT_ID = re.compile(r"^(?:api://)?([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})$")


class AuthError(Exception):
    """The request is not authenticated (401), not authorised (403), or keys are unreachable (503)."""

    def __init__(self, status: int, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds, for a 503


class KeysUnavailable(Exception):
    """Entra's key endpoint failed: unreachable, too slow, or not a JSON Web Key Set."""


def accepted_audiences(audiences: tuple[str, ...] | list[str]) -> list[str]:
    """The configured audiences, each client id also as `api://<client id>` and the other way round."""
    accepted: list[str] = []
    for audience in audiences:
        match = _CLIENT_ID.match(audience)
        forms = (match.group(1), f"api://{match.group(1)}") if match else (audience,)
        accepted.extend(form for form in forms if form not in accepted)
    return accepted


class SecureWebhook:
    def __init__(self, tenant_id: str, audiences: tuple[str, ...] | list[str], *, jwks_url: str | None = None,
                 app_id: str = AZNS_APP_ID) -> None:
        self._tenant_id = tenant_id.lower()
        self._audiences = accepted_audiences(audiences)
        self._issuers = [f"https://sts.windows.net/{self._tenant_id}/",
                         f"https://login.microsoftonline.com/{self._tenant_id}/v2.0"]
        self._jwks_url = jwks_url or f"https://login.microsoftonline.com/{self._tenant_id}/discovery/v2.0/keys"
        self._app_id = app_id
        self._client: Any = None
        self._lock = threading.Lock()  # one fetch at a time; the others wait at most KEYS_TIMEOUT
        self._failed_until = 0.0  # monotonic time until which a failed fetch is remembered
        self._failure = ""

    def _keys(self):
        if self._client is None:
            import jwt

            class EntraKeys(jwt.PyJWKClient):
                def get_jwk_set(self, refresh: bool = False):
                    try:
                        return super().get_jwk_set(refresh)
                    except (jwt.PyJWTError, ValueError) as err:  # ValueError: not JSON (an HTML page)
                        raise KeysUnavailable(f"{type(err).__name__}: {str(err)[:200]}") from err

            # Keys are cached for an hour; an unknown key id (Entra rolled its keys) triggers one refetch.
            self._client = EntraKeys(self._jwks_url, cache_keys=True, lifespan=3600, timeout=KEYS_TIMEOUT)
        return self._client

    def _signing_key(self, token: str):
        if not self._lock.acquire(timeout=KEYS_TIMEOUT):
            raise AuthError(503, "Entra ID signing keys are being fetched by another request; retry later.")
        try:
            left = self._failed_until - time.monotonic()
            if left > 0:
                raise AuthError(503, f"Entra ID signing keys could not be fetched: {self._failure}",
                                math.ceil(left))
            try:
                return self._keys().get_signing_key_from_jwt(token)
            except KeysUnavailable as err:
                self._failed_until, self._failure = time.monotonic() + KEYS_RETRY_SECONDS, str(err)
                raise AuthError(503, f"Entra ID signing keys could not be fetched: {err}",
                                math.ceil(KEYS_RETRY_SECONDS)) from None
        finally:
            self._lock.release()

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
            key = self._signing_key(token)
        except jwt.PyJWTError as err:
            raise AuthError(401, f"The bearer token's signing key is not one of the tenant's keys: {err}.") from None
        try:
            claims = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self._audiences, issuer=self._issuers,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidAudienceError as err:
            raise AuthError(401, f"The bearer token is not valid: {err} (accepted: {', '.join(self._audiences)}; "
                                 "WEBHOOK_AUDIENCE takes the application id URI and the client id).") from None
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
