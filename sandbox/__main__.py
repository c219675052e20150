"""``python -m sandbox``: run the sandbox in the foreground for the demo or a person at a terminal.

Prints the endpoint, the CA bundle and the environment to export, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from .emulator import Sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument(
        "--seed", action="append", default=[], metavar="FILE.json", help="seed document(s) to load, in order"
    )
    parser.add_argument("--clock", help="initial sandbox time (ISO 8601); a seed's clock overrides it")
    parser.add_argument(
        "--state-dir",
        help="where to write the CA and certificate (default: a temp dir), "
        "e.g. .sandbox/ so the exported path stays stable",
    )
    args = parser.parse_args(argv)

    sandbox = Sandbox(now=args.clock, port=args.port, state_dir=args.state_dir)
    for seed in args.seed:
        sandbox.load_seed(json.loads(Path(seed).read_text()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with sandbox.start():
        print(f"Sandbox listening on {sandbox.endpoint} (clock {sandbox.now.isoformat()})")
        print(f"CA bundle: {sandbox.ca_bundle}")
        for name, value in sandbox.env().items():
            print(f"export {name}={value}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while not stopping.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    print("Sandbox stopped.", flush=True)


if __name__ == "__main__":
    main()
