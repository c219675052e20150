"""The demo's step log: what a training script prints before it fails, including the secrets careless code
prints (a SAS URL, a bearer token, a storage connection string) near the end, where a tail reads them.

The three secrets are fake (`DEMO_SECRETS`), but shaped like real ones, so the redaction that must hide them from
emails, logs and tables is tested against the real formats.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

SAS_SIGNATURE = "Xq3tvH1yK9sN2bWm4Ue8Ra7Lc5Pd0Jf6Zg1Yh2Ti3Ok%3D"
BEARER_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    + base64.urlsafe_b64encode(b'{"aud":"https://storage.azure.com","note":"sandbox"}').decode().rstrip("=")
    + ".c2FuZGJveC1vbmx5LW5vdC1hLXJlYWwtc2lnbmF0dXJl"
)
ACCOUNT_KEY = base64.b64encode(b"not a real key: the sandbox's fake storage account key".ljust(64, b".")).decode()
DEMO_SECRETS = (SAS_SIGNATURE, BEARER_TOKEN, ACCOUNT_KEY)

_SAS_URL = (
    "https://stchurnprod01.blob.core.windows.net/training-data/churn/2026-01.parquet?sv=2022-11-02&ss=b"
    f"&srt=co&sp=rl&se=2026-12-31T23:59:59Z&st=2026-01-01T00:00:00Z&spr=https&sig={SAS_SIGNATURE}"
)
_CONNECTION = (
    f"DefaultEndpointsProtocol=https;AccountName=stchurnprod01;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)


def train_log(started: datetime) -> str:
    """The log of a training step started at `started`: it prints the three secrets, then fails."""

    def at(seconds: float) -> str:
        return (started + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]

    lines = [
        f"{at(1)} INFO  azureml-core 1.60.0, python 3.10.14, mlflow 2.17.2",
        f"{at(1.3)} INFO  Arguments: --epochs 40 --learning-rate 0.05 --target churned",
    ]
    lines += [f"{at(2 + i)} INFO  Loading shard {i:02d}/24 of churn/2026-01" for i in range(24)]
    lines += [
        f"{at(27.3)} INFO  Reading training data from {_SAS_URL}",
        f"{at(27.9)} DEBUG Request headers: {{'Authorization': 'Bearer {BEARER_TOKEN}'}}",
        f"{at(28)} INFO  Feature store connection: {_CONNECTION}",
        f"{at(31.7)} INFO  Loaded 1,204,311 rows, 48 columns",
        f"{at(31.8)} WARNING Column tenure_months has 1,912 missing values",
    ]
    lines += [f"{at(40 + 15 * i)} INFO  epoch {i + 1}/40 loss={0.69 - i * 0.011:.3f}" for i in range(21)]
    lines += [
        f"{at(400)} ERROR Training failed",
        "Traceback (most recent call last):",
        '  File "train.py", line 88, in <module>',
        "    model.fit(X, y)",
        '  File "/azureml-envs/azureml_3f9c/lib/python3.10/site-packages/lightgbm/sklearn.py", line 895, in fit',
        "    X, y = check_X_y(X, y)",
        "ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
    ]
    return "\n".join(lines) + "\n"
