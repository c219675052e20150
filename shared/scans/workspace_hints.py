"""What to fix when a Log Analytics workspace cannot be read: the answer's reason plus the setting to look at,
what a right value looks like and the likely mistake. Plain text for the log, the history row and the tick report."""

from __future__ import annotations

WORKSPACE_SETTING = "LOG_ANALYTICS_WORKSPACE_IDS"
ENDPOINT_SETTING = "LOG_ANALYTICS_ENDPOINT"

_WHAT_AN_ID_IS = (
    "it takes each Log Analytics workspace's Workspace ID (its customer id: a GUID on the workspace's Overview "
    "page, or `az monitor log-analytics workspace show -g <rg> -n <name> --query customerId`); the usual mistake "
    "is the Azure ML workspace's GUID (studio's Workspace ID) instead"
)


def explain(reason: str, status: int | None, workspace_id: str, endpoint: str) -> str:
    """`reason` (the service's answer) with what to do about it, for the answers that need a person."""
    if status == 404:
        return (
            f"{reason}. Workspace {workspace_id} is not a Log Analytics workspace {endpoint} knows: check "
            f"{WORKSPACE_SETTING}: {_WHAT_AN_ID_IS}"
        )
    if status in (401, 403):
        return (
            f"{reason}. The app's identity cannot read workspace {workspace_id}: give it Log Analytics Reader on "
            f"that workspace, or check {WORKSPACE_SETTING}: {_WHAT_AN_ID_IS}"
        )
    if status is None and reason.startswith("connection failed"):
        return (
            f"{reason}. Cannot reach {ENDPOINT_SETTING} ({endpoint}): check the setting "
            "(https://api.loganalytics.io in Azure's public cloud) and the network"
        )
    return reason
