"""Azure ML workspace identity and Azure ML studio links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_WORKSPACE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourcegroups/(?P<resource_group>[^/]+)"
    r"/providers/microsoft\.machinelearningservices/workspaces/(?P<name>[^/]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Workspace:
    name: str
    subscription_id: str = ""
    resource_group: str = ""

    @classmethod
    def from_resource_id(cls, resource_id: str, fallback_name: str = "") -> Workspace:
        """Log rows carry `_ResourceId` (often upper-cased); anything unparseable keeps just the name."""
        match = _WORKSPACE_ID.match(resource_id or "")
        if not match:
            return cls(name=fallback_name or resource_id or "unknown workspace")
        return cls(
            name=fallback_name or match["name"],
            subscription_id=match["subscription"].lower(),
            resource_group=match["resource_group"],
        )

    @property
    def studio_wsid(self) -> str | None:
        if not (self.subscription_id and self.resource_group):
            return None
        return f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}/workspaces/{self.name}"


def studio_run_url(workspace: Workspace, run_id: str, tenant_id: str | None = None) -> str | None:
    """The link the Azure ML CLI and SDK print for a run; None when the workspace is not fully known."""
    wsid = workspace.studio_wsid
    if wsid is None or not run_id:
        return None
    url = f"https://ml.azure.com/runs/{quote(run_id, safe='')}?wsid={quote(wsid, safe='/')}"
    if tenant_id:
        url += f"&tid={quote(tenant_id, safe='')}"
    return url
