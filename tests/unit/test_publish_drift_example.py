"""The README's drift-publishing example sends the documented custom-metrics request (to a local HTTP server:
the Azure Monitor ingestion endpoint has no local stand-in)."""

from __future__ import annotations

import json
import time

from examples.publish_drift_metric import NAMESPACE, publish


class _Token:
    def get_token(self, *scopes):
        from azure.core.credentials import AccessToken

        assert scopes == ("https://monitoring.azure.com/.default",)
        return AccessToken("step-identity-token", int(time.time()) + 600)


def test_publish_posts_one_series_with_dimensions(httpserver):
    resource = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ws"
    httpserver.expect_oneshot_request(
        f"{resource}/metrics", method="POST", headers={"Authorization": "Bearer step-identity-token"}
    ).respond_with_data("")
    publish(
        resource,
        "westeurope",
        "churn_drift_score",
        0.42,
        {"feature": "tenure_months"},
        _Token(),
        endpoint=httpserver.url_for("").rstrip("/"),
    )
    [(request, _)] = httpserver.log
    body = json.loads(request.data)
    base = body["data"]["baseData"]
    assert (base["metric"], base["namespace"], base["dimNames"]) == ("churn_drift_score", NAMESPACE, ["feature"])
    assert base["series"] == [{"dimValues": ["tenure_months"], "min": 0.42, "max": 0.42, "sum": 0.42, "count": 1}]
    assert body["time"].endswith("Z")
