"""Publish a drift score from an Azure ML pipeline step as an Azure Monitor custom metric.

The alerting app's `scan_metrics` then evaluates it like any platform metric (rules.yaml, `metric_rules`).
Run inside the pipeline step, after computing the score:

    python publish_drift_metric.py --resource-id <resource id> --region westeurope \
        --metric churn_drift_score --value 0.42 --dimension feature=tenure_months

Needs the step's identity to hold "Monitoring Metrics Publisher" on the resource (the Azure ML workspace, or any
resource in a region that supports custom metrics). In rules.yaml use namespace `aml.drift` (below) and the metric
name. Uses only azure-identity and requests, both already in an Azure ML environment with azureml-core or the v2 SDK.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "aml.drift"
SCOPE = "https://monitoring.azure.com/.default"


def custom_metric_body(metric: str, value: float, dimensions: dict[str, str], at: datetime) -> dict[str, Any]:
    """The documented custom-metrics payload: one series with min/max/sum/count of the value."""
    return {
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "baseData": {
                "metric": metric,
                "namespace": NAMESPACE,
                "dimNames": list(dimensions),
                "series": [
                    {"dimValues": list(dimensions.values()), "min": value, "max": value, "sum": value, "count": 1}
                ],
            }
        },
    }


def publish(
    resource_id: str,
    region: str,
    metric: str,
    value: float,
    dimensions: dict[str, str],
    credential: Any = None,
    endpoint: str | None = None,
) -> None:
    import requests

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    token = credential.get_token(SCOPE).token
    url = f"{endpoint or f'https://{region}.monitoring.azure.com'}{resource_id}/metrics"
    body = custom_metric_body(metric, value, dimensions, datetime.now(UTC))
    response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resource-id", required=True)
    parser.add_argument("--region", required=True, help="the resource's region, e.g. westeurope")
    parser.add_argument("--metric", required=True)
    parser.add_argument("--value", type=float, required=True)
    parser.add_argument("--dimension", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    dimensions = dict(item.split("=", 1) for item in args.dimension)
    publish(args.resource_id, args.region, args.metric, args.value, dimensions)
    print(f"published {args.metric}={args.value} {dimensions} to {args.resource_id}")


if __name__ == "__main__":
    main()
