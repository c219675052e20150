"""`make bench`: performance figures, each measured in the same run as its reference.

Cold start: `import function_app` against `import azure.functions` alone, each in fresh interpreters
(median of several runs), because the Functions host imports function_app on every cold start.
Webhook: answer time (p50, p99) of a burst of deliveries with repeats, emails sent, and a long hypothesis run
(bench/webhook_bench.py).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 15
_TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", _TIMER.format(module=module)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


FUZZ_EXAMPLES = int(os.environ.get("BENCH_FUZZ_EXAMPLES", "3000"))


def main() -> int:
    base = import_seconds("azure.functions")
    app = import_seconds("function_app")
    ratio = app / base
    print(f"{'figure':44} {'value':>12} {'reference':>12} {'ratio':>7} target")
    print(f"{'import function_app vs azure.functions (s)':44} {app:12.4f} {base:12.4f} {ratio:7.2f} <= 1.30")
    ok = ratio <= 1.3

    # Webhook: a burst of 200 deliveries (50 of them repeats) from 8 threads, against Azurite + the sandbox.
    # Reference: one Table Storage read against the same Azurite (the floor under any claim).
    from bench.webhook_bench import burst, fuzz, local_stack

    with local_stack() as (sandbox, connection):
        figures = burst(sandbox, connection)
        print(f"{'webhook answer p50, burst of 200 (ms)':44} {figures['p50']:12.1f} {figures['read_p50']:12.1f} "
              f"{figures['p50'] / figures['read_p50']:7.2f} -")
        print(f"{'webhook answer p99, burst of 200 (ms)':44} {figures['p99']:12.1f} {figures['read_p50']:12.1f} "
              f"{figures['p99'] / figures['read_p50']:7.2f} -")
        emails, expected = figures["emails"], figures["expected_emails"]
        print(f"{'webhook emails sent vs distinct alerts':44} {emails:12d} {expected:12d} {emails / expected:7.2f} "
              f"== 1.00")
        ok = ok and emails == expected and figures["statuses"] == [200]
        count, seconds, server_errors = fuzz(FUZZ_EXAMPLES)
        print(f"{'webhook hypothesis deliveries, 5xx answers':44} {server_errors:12d} {count:12d} "
              f"{server_errors / max(count, 1):7.2f} == 0 ({seconds:.0f} s)")
        ok = ok and server_errors == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
