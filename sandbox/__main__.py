"""``python -m sandbox``: run the sandbox in the foreground for the demo or a person at a terminal.

Prints the endpoint, the CA bundle and the environment to export, then serves until Ctrl-C or SIGTERM.
With --demo-data it is the local try-out (README "Try it locally"): Azurite beside it, the demo seed loaded,
a complete settings file for the app in .sandbox/local.settings.json, and each email in .sandbox/emails/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from . import local_stack
from .emulator import Sandbox
from .seeds import DEMO_SEED


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--demo-data",
        action="store_true",
        help=f"load {DEMO_SEED.relative_to(local_stack.ROOT)}, start Azurite too, write "
        f"{local_stack.SETTINGS_FILE} and the emails to {local_stack.EMAILS_DIR}/",
    )
    parser.add_argument("--azurite", action="store_true", help="also run Azurite (Table Storage) for the app")
    parser.add_argument("--write-settings", type=Path, metavar="FILE", help="write the app's settings file here")
    parser.add_argument("--emails", type=Path, metavar="DIR", help="write each email the sandbox accepts here")
    parser.add_argument("--background", action="store_true", help="run detached; return once it is ready")
    parser.add_argument("--stop", action="store_true", help="stop the sandbox started with --background")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.stop:
        return local_stack.stop()
    if args.background:
        return local_stack.start_in_background([a for a in argv if a != "--background"])
    if args.demo_data:
        args.seed.insert(0, str(DEMO_SEED))
        args.azurite = True
        args.write_settings = args.write_settings or local_stack.SETTINGS_FILE
        args.emails = args.emails or local_stack.EMAILS_DIR
        args.state_dir = args.state_dir or str(local_stack.STATE_DIR.resolve())

    from .azurite import azurite_tables

    sandbox = Sandbox(now=args.clock, port=args.port, state_dir=args.state_dir)
    for seed in args.seed:
        sandbox.load_seed(json.loads(Path(seed).read_text()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with contextlib.ExitStack() as stack:
        storage = stack.enter_context(azurite_tables()) if args.azurite else None
        stack.enter_context(sandbox.start())
        print(f"Sandbox listening on {sandbox.endpoint} (clock {sandbox.now.isoformat()})")
        print(f"CA bundle: {sandbox.ca_bundle}")
        settings = sandbox.app_settings(storage) if storage else sandbox.env()
        for name, value in settings.items():
            print(f"export {name}={value}")
        if args.write_settings:
            local_stack.write_settings(args.write_settings, settings)
            print(
                f"Settings for the app: {args.write_settings} (python -m shared --settings {args.write_settings} ...)"
            )
        if args.emails:
            sandbox.email.on_accept = local_stack.EmailFolder(args.emails)
            print(f"Emails the sandbox accepts are written to {args.emails}/")
        print("Ctrl-C to stop.", flush=True)
        try:
            while not stopping.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
