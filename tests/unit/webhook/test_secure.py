"""Secure Webhook tokens, checked against locally generated RSA keys published as a JWKS on loopback."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.webhook.answers import Rejected
from shared.webhook.secure import AZNS_APP_ID, REQUIRED_ROLE, SecureWebhook

TENANT = "00000000-0000-0000-0000-0000000000bb"
AUDIENCE = "api://aml-alerts-webhook"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING, OTHER = _key(), _key()


def _jwk(private, kid):
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture
def jwks_url(httpserver):
    httpserver.expect_request("/keys").respond_with_json({"keys": [_jwk(SIGNING, "k1")]})
    return httpserver.url_for("/keys")


def _token(private=SIGNING, kid="k1", **overrides):
    now = int(time.time())
    claims = {
        "aud": AUDIENCE,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now,
        "nbf": now,
        "exp": now + 86400,  # the parametrized tokens are made at collection: a long suite must not outlive them
        "appid": AZNS_APP_ID,
        "roles": [REQUIRED_ROLE],
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return "Bearer " + jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def test_a_valid_action_group_token_is_accepted(jwks_url):
    claims = SecureWebhook(TENANT, (AUDIENCE,), jwks_url=jwks_url).validate(_token())
    assert claims["appid"] == AZNS_APP_ID


def test_a_v2_token_with_azp_and_the_client_id_audience_is_accepted(jwks_url):
    token = _token(
        aud="11111111-2222-3333-4444-555555555555",
        appid=None,
        azp=AZNS_APP_ID,
        iss=f"https://login.microsoftonline.com/{TENANT}/v2.0",
    )
    SecureWebhook(TENANT, ("11111111-2222-3333-4444-555555555555",), jwks_url=jwks_url).validate(token)


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        (None, 401, "bearer token is required"),
        ("Basic abc", 401, "bearer token is required"),
        ("Bearer not-a-jwt", 401, "malformed"),
        (_token(private=OTHER), 401, "not valid: Signature verification failed"),
        (_token(kid="unknown"), 401, "signing key is not one of the tenant's keys"),
        (_token(aud="api://someone-else"), 401, "Audience doesn't match"),
        (_token(iss="https://sts.windows.net/00000000-0000-0000-0000-0000000000cc/"), 401, "Invalid issuer"),
        (_token(exp=int(time.time()) - 3600), 401, "expired"),
        (_token(appid="99999999-9999-9999-9999-999999999999"), 403, "AzNS AAD Webhook"),
        (_token(roles=["SomethingElse"]), 403, "ActionGroupsSecureWebhook"),
        (_token(roles=None), 403, "ActionGroupsSecureWebhook"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(jwks_url, header, status, message):
    with pytest.raises(Rejected) as error:
        SecureWebhook(TENANT, (AUDIENCE,), jwks_url=jwks_url).validate(header)
    assert error.value.status == status
    assert message in error.value.message


def test_an_unsigned_token_is_refused(jwks_url):
    unsigned = jwt.encode({"aud": AUDIENCE}, key=None, algorithm="none")
    with pytest.raises(Rejected, match="RS256"):
        SecureWebhook(TENANT, (AUDIENCE,), jwks_url=jwks_url).validate(f"Bearer {unsigned}")


CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    ("configured", "aud"),
    [
        ((AUDIENCE, CLIENT_ID), AUDIENCE),  # a v1 token: the application id URI
        ((AUDIENCE, CLIENT_ID), CLIENT_ID),  # a v2 token: the client id
        ((CLIENT_ID,), f"api://{CLIENT_ID}"),  # the default URI form stands for the client id
        ((f"api://{CLIENT_ID}",), CLIENT_ID),
    ],
)
def test_both_audience_forms_are_accepted(jwks_url, configured, aud):
    SecureWebhook(TENANT, configured, jwks_url=jwks_url).validate(_token(aud=aud))


def test_a_token_for_another_app_names_the_accepted_audiences(jwks_url):
    with pytest.raises(Rejected) as error:
        SecureWebhook(TENANT, (AUDIENCE,), jwks_url=jwks_url).validate(_token(aud=CLIENT_ID))
    assert error.value.status == 401
    assert f"accepted: {AUDIENCE}; WEBHOOK_AUDIENCE takes the application id URI and the client id" in (
        error.value.message
    )


def test_keys_are_fetched_once_and_cached(httpserver):
    httpserver.expect_request("/keys").respond_with_json({"keys": [_jwk(SIGNING, "k1")]})
    validator = SecureWebhook(TENANT, (AUDIENCE,), jwks_url=httpserver.url_for("/keys"))
    for _ in range(5):
        validator.validate(_token())
    assert len(httpserver.log) == 1


def test_unreachable_keys_ask_azure_to_retry():
    validator = SecureWebhook(TENANT, (AUDIENCE,), jwks_url="http://127.0.0.1:9/keys")
    with pytest.raises(Rejected) as error:
        validator.validate(_token())
    assert error.value.status == 503
