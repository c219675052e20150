"""Azure ML workspace identity and Azure ML studio links."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shared.core.resource_ids import AML_WORKSPACE, parse_resource_id


@dataclass(frozen=True)
class Workspace:
    name: str
    subscription_id: str = ""
    resource_group: str = ""

    @classmethod
    def from_resource_id(cls, resource_id: str, fallback_name: str = "") -> Workspace:
        """Log rows carry `_ResourceId` (often upper-cased) of the workspace or of a resource in it (a compute);
        anything else keeps just the name."""
        parsed = parse_resource_id((resource_id or "").rstrip("/"))
        if parsed is None or parsed.resource_group is None or not parsed.within(AML_WORKSPACE):
            return cls(name=fallback_name or resource_id or "unknown workspace")
        return cls(
            name=fallback_name or parsed.names[0],
            subscription_id=parsed.subscription.lower(),
            resource_group=parsed.resource_group,
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
