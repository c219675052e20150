"""`make bench`: performance figures, each measured in the same run as its reference.

Cold start: `import function_app` against `import azure.functions` alone, each in fresh interpreters
(median of several runs), because the Functions host imports function_app on every cold start.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 15
_TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", _TIMER.format(module=module)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> int:
    base = import_seconds("azure.functions")
    app = import_seconds("function_app")
    ratio = app / base
    print(f"{'figure':44} {'value':>12} {'reference':>12} {'ratio':>7} target")
    print(f"{'import function_app vs azure.functions (s)':44} {app:12.4f} {base:12.4f} {ratio:7.2f} <= 1.30")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
