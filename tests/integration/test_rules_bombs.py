"""`rules check` on hostile rules files: a file:line error in bounded time and memory, never a traceback.

Each check runs the real CLI in a child process limited to 1 GiB of address space and 20 s; before the bounds a
"billion laughs" grew until MemoryError (2 GB after ~38 s) and deep nesting ended in a RecursionError traceback.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.test_settings import VALID

ROOT = Path(__file__).resolve().parents[2]
MEMORY = 1 << 30
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True))


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _rules_check(path: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shared", "rules", "check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=20, check=False, preexec_fn=_limit_memory,
                          env={**VALID, "RULES_FILE": str(path), "PATH": ""})
    return done, time.monotonic() - started


@pytest.mark.parametrize(("text", "error"), [
    (LAUGHS, "rules.yaml:6: alias *e makes more than 100,000 values once aliases are expanded"),
    ("routes:\n  - match: {workspace: " + "[" * 5000 + "]" * 5000 + "}\n",
     "rules.yaml:2: nested more than 32 levels deep"),
    ("storm_limit: 5\nsilences:\n  " + "- " * 5000 + "x\n", "rules.yaml:3: nested more than 32 levels deep"),
], ids=["billion-laughs", "5000-deep-brackets", "5000-deep-block-lists"])
def test_a_resource_bomb_is_a_file_and_line_error_in_bounded_time_and_memory(tmp_path, text, error):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    done, seconds = _rules_check(path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"{path.parent}/{error}" in done.stderr
    assert seconds < 10
