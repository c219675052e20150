"""Helpers for the Azure ML sandbox tests: plain HTTPS GETs (what a client sends, byte for byte), the team's wire
samples, a shape comparison, and a credential whose tokens carry an audience."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from sandbox import Sandbox

WIRE = Path(__file__).resolve().parents[2] / "sandbox" / "wire" / "aml"
FAR_FUTURE = 4_102_444_800
# Maps whose keys are data, not schema: the sandbox may hold other keys than a sample.
MAPS = {"logFiles", "properties", "tags", "services", "settings", "parameters", "inputs", "outputs", "jobCost"}


def sample(name: str) -> dict[str, Any]:
    return json.loads((WIRE / name).read_text())["response"]["body"]


def get(
    sb: Sandbox,
    path_or_url: str,
    *,
    token: str | None = "sandbox",  # noqa: S107 - the sandbox checks presence
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = path_or_url if path_or_url.startswith("https://") else f"{sb.endpoint}{path_or_url}"
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=sent)  # noqa: S310 - https to the sandbox
    context = ssl.create_default_context(cafile=sb.ca_bundle)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(sb: Sandbox, path_or_url: str, **options: Any) -> tuple[int, Any]:
    status, _, data = get(sb, path_or_url, **options)
    return status, json.loads(data)


def assert_shape(expected: Any, answer: Any, path: str = "$") -> None:
    """`answer` has every key `expected` has (maps aside), with values of the same JSON type where both are set."""
    if isinstance(expected, dict):
        assert isinstance(answer, dict), f"{path}: {type(answer).__name__}, not an object"
        if path.rsplit(".", 1)[-1] not in MAPS:
            missing = sorted(set(expected) - set(answer))
            assert not missing, f"{path}: missing {missing}"
        for key, value in expected.items():
            if value is not None and answer.get(key) is not None:
                assert_shape(value, answer[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(answer, list), f"{path}: {type(answer).__name__}, not a list"
        if expected and answer:
            assert_shape(expected[0], answer[0], f"{path}[0]")
    else:
        kinds = {type(expected), type(answer)}
        assert len(kinds) == 1 or kinds <= {int, float}, f"{path}: {answer!r} is not like {expected!r}"


class AudienceCredential:
    """Tokens shaped like Entra's: a JWT whose `aud` is the scope's resource (unsigned: the sandbox reads `aud`,
    it verifies nothing). Records the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes[0])
        claims = json.dumps({"aud": scopes[0].removesuffix("/.default")}).encode()
        return AccessToken(f"eyJhbGciOiJub25lIn0.{base64.urlsafe_b64encode(claims).decode().rstrip('=')}.", FAR_FUTURE)
