"""Blob storage for the runs' logs, read by SAS URL with HTTP ranges (Get Blob).

The sandbox stands for `https://<account>.blob.core.windows.net/<container>/<path>` at
`<endpoint>/blob/<account>/<container>/<path>`. A SAS URL has the shape of a user-delegation SAS that run history
hands out (sample `runhistory-run-details-failed-step.json`: `sv, sr=b, sig, skoid, sktid, skt, ske, sks, skv,
st, se, sp=r`); its `sig` is an HMAC of the path and `se` with the sandbox's key, so a tampered or expired URL
answers 403 `AuthenticationFailed`, as Storage does.

Ranges (`x-ms-range` or `Range`): `bytes=a-b` or `bytes=a-` answer 206 with `Content-Range: bytes a-b/size`;
an offset at or past the end answers 416 `InvalidRange` (so does any range of an empty blob); no range answers
200 with the whole blob. Errors are Storage's XML. An Authorization header on a SAS request is refused (400):
that is the sandbox checking its clients, not recorded Storage behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from .errors import ServiceError
from .timeutil import format_datetime, parse_datetime

SAS_LIFETIME = timedelta(hours=8)
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class BlobError(ServiceError):
    """A Storage error: XML body, `x-ms-error-code` header."""

    def __init__(
        self, status: int, code: str, message: str, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, message, {"x-ms-error-code": code, **(headers or {})})
        self.detail = detail

    def payload(self) -> tuple[bytes, str]:
        extra = f"<AuthenticationErrorDetail>{self.detail}</AuthenticationErrorDetail>" if self.detail else ""
        text = (
            f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{self.error["code"]}</Code>'
            f"<Message>{self.error['message']}\nRequestId:{uuid.uuid4()}\nTime:{format_datetime(datetime.now(UTC))}"
            f"</Message>{extra}</Error>"
        )
        return text.encode(), "application/xml"


def _signature(key: bytes, path: str, expiry: str) -> str:
    digest = hmac.new(key, f"{path}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sas_url(base_url: str, account: str, path: str, now: datetime, key: bytes) -> str:
    """A read-only SAS URL for the blob `path` of `account`, valid for 8 hours from `now`."""
    start, expiry = format_datetime(now - timedelta(minutes=5)), format_datetime(now + SAS_LIFETIME)
    oid, tenant = "00000000-0000-0000-0000-0000000000cc", "00000000-0000-0000-0000-0000000000bb"
    query = (
        f"sv=2019-07-07&sr=b&sig={quote(_signature(key, f'{account}/{path}', expiry), safe='')}"
        f"&skoid={oid}&sktid={tenant}&skt={quote(start)}&ske={quote(expiry)}&sks=b&skv=2019-07-07"
        f"&st={quote(start)}&se={quote(expiry)}&sp=r"
    )
    return f"{base_url}/blob/{account}/{quote(path)}?{query}"


def check_sas(account: str, path: str, query: str, now: datetime, key: bytes) -> None:
    """Raise Storage's 403 unless the query is a valid, unexpired, read SAS for this blob."""
    params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
    expiry = params.get("se", "")
    expected = _signature(key, f"{account}/{path}", expiry)
    if not hmac.compare_digest(params.get("sig", ""), expected) or "r" not in params.get("sp", ""):
        raise BlobError(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value "
            "of Authorization header is formed correctly including the signature.",
            "Signature did not match.",
        )
    if parse_datetime(expiry) < now:
        raise BlobError(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value "
            "of Authorization header is formed correctly including the signature.",
            f"Signed expiry time [{expiry}] has to be after current time [{format_datetime(now)}]",
        )


def read(content: bytes, headers: Any, last_modified: datetime) -> tuple[int, bytes, dict[str, str]]:
    """Get Blob with an optional range: (status, body, headers)."""
    size = len(content)
    common = {
        "Content-Type": "text/plain; charset=utf-8",
        "x-ms-blob-type": "AppendBlob",
        "Accept-Ranges": "bytes",
        "x-ms-version": "2021-08-06",
        "ETag": f'"0x{hashlib.sha256(content).hexdigest()[:15].upper()}"',
        "Last-Modified": last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    match = _RANGE.match((headers.get("x-ms-range") or headers.get("Range") or "").strip())
    if match is None:
        return 200, content, common
    first = int(match.group(1))
    last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    if first >= size or last < first:
        raise BlobError(
            416,
            "InvalidRange",
            "The range specified is invalid for the current size of the resource.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return 206, content[first : last + 1], {**common, "Content-Range": f"bytes {first}-{last}/{size}"}
