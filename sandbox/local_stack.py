"""The local try-out around `python -m sandbox`: Azurite beside the sandbox, a complete settings file for the
app, every accepted email written to a folder, and running in the background until `--stop`.

    python -m sandbox --demo-data --background   # returns once .sandbox/local.settings.json is written
    python -m shared --settings .sandbox/local.settings.json scan run-failures
    cat .sandbox/emails/*.txt
    python -m sandbox --stop
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = ROOT / "local.settings.sample.json"
STATE_DIR = Path(".sandbox")
SETTINGS_FILE = STATE_DIR / "local.settings.json"
EMAILS_DIR = STATE_DIR / "emails"
PID_FILE = STATE_DIR / "sandbox.pid"
LOG_FILE = STATE_DIR / "sandbox.log"
START_TIMEOUT = 90  # seconds: Azurite's first start on a slow machine


def write_settings(path: Path, values: dict[str, str]) -> None:
    """A Functions settings file: the sample's values (so every setting is there) under the sandbox's own.
    Written whole and then renamed, so a reader never sees half a file."""
    sample = json.loads(SAMPLE_SETTINGS.read_text())
    document = {**sample, "Values": {**sample["Values"], **values}}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)


class EmailFolder:
    """Writes each email the sandbox's ACS accepts, as it is accepted, to NNN.txt (headers and plain text) and
    NNN.html: the sandbox calls it from its request threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._written = 0
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.*"):
            old.unlink()

    def __call__(self, emails: list[dict[str, Any]]) -> None:
        with self._lock:
            for number, email in enumerate(emails[self._written :], start=self._written + 1):
                content = email["content"]
                to = ", ".join(r["address"] for r in email["recipients"]["to"])
                head = f"From: {email['senderAddress']}\nTo: {to}\nSubject: {content['subject']}\n\n"
                (self.folder / f"{number:03d}.txt").write_text(head + content.get("plainText", ""))
                (self.folder / f"{number:03d}.html").write_text(content.get("html", ""))
            self._written = max(self._written, len(emails))


def start_in_background(argv: list[str]) -> int:
    """Run `python -m sandbox ARGV` detached; return once it has written its settings file (0), or print why
    it did not start (1)."""
    STATE_DIR.mkdir(exist_ok=True)
    SETTINGS_FILE.unlink(missing_ok=True)
    if PID_FILE.exists():
        stop()
    with LOG_FILE.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell that started it
        )
    PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT
    while not SETTINGS_FILE.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            print(f"the sandbox did not start; its output ({LOG_FILE}):\n{LOG_FILE.read_text()}", file=sys.stderr)
            stop()
            return 1
        time.sleep(0.2)
    print(LOG_FILE.read_text().split("Ctrl-C")[0].rstrip())
    print(f"Running in the background (pid {process.pid}); stop it with: python -m sandbox --stop")
    return 0


def stop() -> int:
    """End the background sandbox (and its Azurite) started from this folder."""
    try:
        pid = int(PID_FILE.read_text())
    except (OSError, ValueError):
        print("no background sandbox to stop")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass
    PID_FILE.unlink(missing_ok=True)
    print(f"stopped the sandbox (pid {pid})")
    return 0
