"""Which metrics a resource has: ARM's metric definitions (`GET <resource id>/providers/microsoft.insights/
metricDefinitions?api-version=2018-01-01&metricnamespace=<namespace>`), read by `rules check --online` to tell a
misspelt metric or namespace (which the Metrics batch API answers with no series, not an error) from a quiet one.
azure-monitor-query 2.x no longer has a client for it, so this is a plain azure-core GET (shared/azure/http.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from shared.azure.arm import ARM_ENDPOINT
from shared.azure.failures import Unavailable
from shared.azure.http import JsonService
from shared.core.budget import Budget

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

API_VERSION = "2018-01-01"
SERVICE = "metric definitions"
_HINTS = {
    403: "the signed-in identity needs Monitoring Reader (or Reader) on the resource",
    404: "no such resource: check the resource id (az resource show --ids <id>)",
}


class MetricDefinitions:
    def __init__(self, credential: TokenCredential, *, endpoint: str = ARM_ENDPOINT, transport: Any = None) -> None:
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy

        self.endpoint = endpoint.rstrip("/")
        self._http = JsonService(
            SERVICE,
            allowed_hosts=(urlsplit(self.endpoint).netloc,),
            auth_policy=BearerTokenCredentialPolicy(credential, f"{self.endpoint}/.default"),
            hints=_HINTS,
            transport=transport,
        )

    def names(self, resource_id: str, namespace: str, budget: Budget) -> list[str] | Unavailable:
        """The metric names of `namespace` on the resource (empty: the namespace has none there)."""
        url = f"{self.endpoint}{quote(resource_id, safe='/')}/providers/microsoft.insights/metricDefinitions"
        body = self._http.get_json(url, budget, params={"api-version": API_VERSION, "metricnamespace": namespace})
        if isinstance(body, Unavailable):
            return body
        return [
            str(item["name"]["value"])
            for item in body.get("value") or []
            if isinstance(item, dict) and isinstance(item.get("name"), dict) and item["name"].get("value")
        ]
