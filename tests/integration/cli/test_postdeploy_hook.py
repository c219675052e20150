"""azd's postdeploy hook (infra/hooks/postdeploy.sh), run as azd runs it: it marks the code deployed, and only
when SMOKE_TEST_EMAIL is set sends one test email through ACS (here the sandbox's). `azd` itself is a stand-in
that records its arguments: it cannot be installed here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def run_hook(sandbox, tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "azd-calls"
    (bin_dir / "azd").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "azd").chmod(0o755)

    def run(**extra: str) -> tuple[subprocess.CompletedProcess[str], str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACS_", "EMAIL_", "SMOKE_"))},
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHON": sys.executable,
            "ACS_ENDPOINT": sandbox.endpoint,  # azd exports the deployment's outputs to its hooks
            "EMAIL_SENDER": "DoNotReply@alerts.contoso.com",
            "AZURE_CREDENTIAL": "emulator",
            "REQUESTS_CA_BUNDLE": sandbox.ca_bundle,
            **extra,
        }
        hook = ["/bin/sh", "infra/hooks/postdeploy.sh"]  # azure.yaml: shell sh
        done = subprocess.run(hook, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
        return done, calls.read_text()

    return run


def test_without_smoke_test_email_it_only_marks_the_code_deployed(run_hook, sandbox):
    done, azd = run_hook()
    assert done.returncode == 0, done.stderr
    assert azd == "env set FUNCTION_CODE_DEPLOYED true\n"
    assert sandbox.emails == []


def test_with_smoke_test_email_it_sends_one_email(run_hook, sandbox):
    done, azd = run_hook(SMOKE_TEST_EMAIL="deployer@contoso.com")
    assert done.returncode == 0, done.stderr
    assert azd == "env set FUNCTION_CODE_DEPLOYED true\n"
    [email] = sandbox.emails
    assert email["recipients"]["to"] == [{"address": "deployer@contoso.com"}]
    assert "test email to deployer@contoso.com" in done.stdout
