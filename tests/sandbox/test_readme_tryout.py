"""The README's local try-out, run as written from a clean folder: the commands are read from the README's
`tryout` block, so a README that drifts from the code fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.app import ALL_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
LINKED = (".venv", "node_modules", "shared", "sandbox", "examples", "rules.yaml", "local.settings.sample.json")


def tryout_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- tryout:[^>]*-->\n```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has no tryout block"
    return [line.split("   #")[0].strip() for line in block[1].splitlines() if line.strip()]


@pytest.fixture
def clean_checkout(tmp_path: Path):
    """A folder with the repo's code and nothing from earlier runs (no .sandbox/, no settings file)."""
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    yield tmp_path
    stop = [sys.executable, "-m", "sandbox", "--stop"]
    subprocess.run(stop, check=False, cwd=tmp_path, capture_output=True, timeout=30)


def test_the_readme_tryout_prints_an_incident_and_its_email(clean_checkout: Path) -> None:
    commands = tryout_commands()
    assert len(commands) == 3
    # The developer's machine-wide CA bundle stays exported: the try-out must work with it.
    env = {**os.environ, "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
    # A clean shell otherwise: no app setting exported (the settings file must say them all).
    env = {k: v for k, v in env.items() if k not in ALL_SETTINGS and not k.startswith(("AZURE_", "AzureWebJobs"))}
    outputs = []
    for command in commands:
        done = subprocess.run(  # noqa: S602 - the README's own commands, run by a shell as a reader would
            command,
            shell=True,
            check=False,
            cwd=clean_checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    started, tick, emails = outputs
    assert "LOG_ANALYTICS_WORKSPACE_IDS=11111111-1111-1111-1111-111111111111" in started
    assert "1 incident(s), 1 new; sent 1 in 1 email(s)" in tick
    # The sandbox serves the run's history too: the step by its display name.
    assert "Subject: [AML] Pipeline failed: churn_training_pipeline in ws-churn-prod (root cause train_model)" in emails
    assert "ROOT CAUSE: train_model Failed" in emails
    assert "ValueError: Input contains NaN" in emails
