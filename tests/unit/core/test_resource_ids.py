"""The one ARM resource-id parser, over the shapes each former ad-hoc parser read (workspace and compute ids from
log rows, alert targets, alert ids, metric ids, rule resources)."""

from __future__ import annotations

from shared.core.azure_ml import Workspace
from shared.core.resource_ids import AML_WORKSPACE, extension_scope, is_guid, parse_resource_id, resource_name

SUB = "00000000-0000-0000-0000-0000000000aa"
WS = f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/RG-ML/PROVIDERS/MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/WS-A"


def test_parts_of_an_upper_cased_workspace_id_from_a_log_row():
    ws = parse_resource_id(WS)
    assert ws is not None
    assert (ws.subscription, ws.resource_group, ws.name, ws.type) == (SUB.upper(), "RG-ML", "WS-A", AML_WORKSPACE)
    assert Workspace.from_resource_id(WS) == Workspace("WS-A", SUB, "RG-ML")


def test_a_compute_is_within_its_workspace():
    compute = parse_resource_id(WS + "/computes/gpu-cluster")
    assert compute is not None and compute.within(AML_WORKSPACE) and compute.type != AML_WORKSPACE
    assert compute.name_of("workspaces") == "WS-A" and compute.name == "gpu-cluster"
    assert Workspace.from_resource_id(WS + "/computes/gpu-cluster/").name == "WS-A"
    assert resource_name(WS + "/computes/gpu-cluster/") == "gpu-cluster"


def test_subscription_level_resources_and_non_ids():
    alert = parse_resource_id(f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/abc-1")
    assert alert is not None and alert.resource_group is None and alert.type == "microsoft.alertsmanagement/alerts"
    for text in ("", "ws-a", WS + "/", WS + "/computes", f"/subscriptions/{SUB}/resourceGroups/rg", None):
        assert parse_resource_id(text) is None, text
    assert Workspace.from_resource_id("ws-a") == Workspace("ws-a")


def test_the_resource_of_a_metric_id_and_guids():
    assert extension_scope(WS + "/providers/Microsoft.Insights/metrics/Failed Runs", "Microsoft.Insights/metrics") == WS
    assert extension_scope("/providers/microsoft.insights/metrics/x", "Microsoft.Insights/metrics") is None
    assert extension_scope(None, "Microsoft.Insights/metrics") is None
    assert is_guid(SUB) and is_guid(SUB.upper()) and not is_guid(SUB + "\n") and not is_guid("-" * 36)
