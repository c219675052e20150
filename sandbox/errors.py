"""The one exception type the service modules raise; the server renders it as the service would."""

from __future__ import annotations

import json
from typing import Any


class ServiceError(Exception):
    """An HTTP error answer: status, the JSON body's ``error`` object and any extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **error_fields: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"code": code, "message": message, **error_fields}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error}

    def payload(self) -> tuple[bytes, str]:
        """The answer's body and content type (JSON here; Storage answers XML, see blob_logs.BlobError)."""
        return json.dumps(self.body()).encode(), "application/json; charset=utf-8"
