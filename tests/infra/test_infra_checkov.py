"""checkov policy checks over the Bicep, offline, with parse errors failing the run.

checkov lives in its own venv (.venv-infra, made by `bash tests/infra/setup.sh`). Without it the checks are
skipped on a developer machine but fail under CI=true, so CI can never pass by not running them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .bicep_model import INFRA, REPO, bicep_files

CHECKOV = Path(os.environ.get("CHECKOV_BIN", REPO / ".venv-infra" / "bin" / "checkov"))
COMMAND = ["-d", "infra", "--framework", "bicep", "--skip-download", "--quiet", "--compact"]
SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::\s*(.*))?")
TIMEOUT = 600


def _checkov_available() -> None:
    if CHECKOV.is_file():
        return
    message = f"checkov is not installed at {CHECKOV}: run `bash tests/infra/setup.sh`"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(message)
    pytest.skip(message)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CKV_PARSE_ERROR_FAIL": "true"}
    return subprocess.run(
        [str(CHECKOV), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _skip_comments() -> list[tuple[Path, int, str, str, str]]:
    """(file, line, resource symbol, check id, reason) for every checkov:skip comment."""
    found = []
    for path in bicep_files():
        resource = None
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            declared = re.match(r"resource (\w+) '", line)
            if declared:
                resource = declared.group(1)
            match = SKIP.search(line)
            if match:
                found.append((path, number, resource or "", match.group(1), (match.group(2) or "").strip()))
    return found


@pytest.fixture(scope="module")
def checkov_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The three checkov runs, in parallel: the gate, a copy without skips, and a deliberately broken file."""
    _checkov_available()
    unskipped = tmp_path_factory.mktemp("unskipped")
    shutil.copytree(INFRA, unskipped / "infra")
    for path in (unskipped / "infra").rglob("*.bicep"):
        path.write_text("\n".join(line for line in path.read_text().splitlines() if not SKIP.search(line)) + "\n")
    broken = tmp_path_factory.mktemp("broken")
    (broken / "infra").mkdir()
    (broken / "infra" / "broken.bicep").write_text(
        "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n  properties: {\n"
    )
    json_command = [arg for arg in COMMAND if arg not in ("--quiet", "--compact")] + ["-o", "json"]
    jobs = {"gate": (COMMAND, REPO), "unskipped": (json_command, unskipped), "broken": (COMMAND, broken)}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(_run, args, cwd) for name, (args, cwd) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_every_skip_has_a_reason_and_sits_inside_its_resource() -> None:
    skips = _skip_comments()
    assert skips, "expected the documented skips (see infra/README.md)"
    for path, line, resource, check, reason in skips:
        where = f"{path.relative_to(REPO)}:{line} {check}"
        assert len(reason) >= 20, f"{where}: a skip needs a reason after the colon"
        # checkov reads suppressions only from the lines inside the resource block.
        assert resource, f"{where}: not inside a resource"
        assert path.read_text().splitlines()[line - 1].startswith("  //"), f"{where}: put it inside the resource"


def test_checkov_passes(checkov_runs) -> None:
    run = checkov_runs["gate"]
    assert run.returncode == 0, f"checkov failed:\n{run.stdout}\n{run.stderr}"


def test_checkov_fails_on_a_parse_error(checkov_runs) -> None:
    run = checkov_runs["broken"]
    assert run.returncode != 0, f"a Bicep file checkov cannot parse must fail the run:\n{run.stdout}\n{run.stderr}"


def test_every_skip_suppresses_a_real_finding(checkov_runs) -> None:
    """A skip whose check would pass anyway (or does not exist for Bicep) is stale and misleading."""
    run = checkov_runs["unskipped"]
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = {
        (check["file_path"].lstrip("/"), check["resource"].rsplit(".", 1)[-1], check["check_id"])
        for item in reports
        for check in item.get("results", {}).get("failed_checks", [])
    }
    for path, line, resource, check, _ in _skip_comments():
        key = (path.relative_to(INFRA).as_posix(), resource, check)
        assert key in failed, f"{path.relative_to(REPO)}:{line}: {check} does not fail without the skip"
