"""Azure Resource Manager ids and GUIDs: the one parser and the one GUID pattern every module uses.

    /subscriptions/<subscription>[/resourceGroups/<group>]/providers/<namespace>/<type>/<name>[/<type>/<name>...]

Segment names compare case-insensitively (the activity log and `_ResourceId` often upper-case them); values keep
the case they were written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(GUID_PATTERN)
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)(?:/resourcegroups/(?P<resource_group>[^/]+))?"
    r"/providers/(?P<namespace>[^/]+)(?P<path>(?:/[^/]+/[^/]+)+)$",
    re.IGNORECASE,
)
AML_WORKSPACE = "microsoft.machinelearningservices/workspaces"


def is_guid(text: str) -> bool:
    return _GUID.fullmatch(text) is not None


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str | None  # None for a subscription-level resource (an alert, a budget)
    namespace: str  # Microsoft.MachineLearningServices
    types: tuple[str, ...]  # ("workspaces", "computes")
    names: tuple[str, ...]  # ("ws-churn-prod", "gpu-cluster")

    @property
    def type(self) -> str:
        """`microsoft.machinelearningservices/workspaces/computes`, lower-cased."""
        return "/".join([self.namespace, *self.types]).lower()

    @property
    def name(self) -> str:
        return self.names[-1]

    def within(self, resource_type: str) -> bool:
        """Of this type or a child of one: a workspace, or a compute in it, is `within` a workspace type."""
        return self.type == resource_type or self.type.startswith(resource_type + "/")

    def name_of(self, resource_type: str) -> str | None:
        """The name given to the first segment of this type (`workspaces` -> the workspace's name)."""
        return next((n for t, n in zip(self.types, self.names, strict=True) if t.lower() == resource_type), None)


def parse_resource_id(text: str | None) -> ResourceId | None:
    """The parts of an ARM resource id; None for anything else (no trailing slash, whole name/type pairs)."""
    match = _RESOURCE_ID.match(text or "")
    if match is None:
        return None
    segments = match["path"].strip("/").split("/")
    return ResourceId(
        match["subscription"], match["resource_group"], match["namespace"], tuple(segments[::2]), tuple(segments[1::2])
    )


def resource_name(resource_id: str) -> str:
    """The last segment of a resource id (the compute, datastore or workspace acted on); '' for ''."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else ""


def extension_scope(extension_id: str | None, extension: str) -> str | None:
    """The resource an extension resource belongs to: `<resource id>/providers/<extension>/<name>` ->
    `<resource id>` (e.g. a metric id, extension `Microsoft.Insights/metrics`); None if `extension_id` is not one."""
    if not extension_id:
        return None
    cut = extension_id.lower().find(f"/providers/{extension.lower()}/")
    return extension_id[:cut] if cut > 0 else None
