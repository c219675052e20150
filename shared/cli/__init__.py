"""`python -m shared`: run a scan once, preview what it would send, look at the outbox, manage silences.

    python -m shared scan run-failures --dry-run --since 6h   # what would be sent for the last 6 hours
    python -m shared scan run-failures                        # one real tick: claim, send, move the watermark
    python -m shared scan compute-changes | metrics           # the other scans (the detector registry's)
    python -m shared outbox                                   # incidents and their delivery state
    python -m shared show KEY                                 # one incident in full (a digest names the keys)
    python -m shared deliver                                  # send what is due now
    python -m shared silence add --match workspace=ws-scratch --for 4h --reason "load test"
    python -m shared silence list | expire ID
    python -m shared rules check [FILE]                       # lint the rules file (no settings needed)
    python -m shared test-email you@contoso.com               # one email through ACS, as the app sends

Settings come from the environment, or from a Functions settings file with --settings local.settings.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shared import detectors

if TYPE_CHECKING:
    from collections.abc import Callable

_DURATION = re.compile(r"^(\d+)([mhd])$")


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 6h or 2d, got {text!r}")
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit_name: int(match[1])})


def _matcher(text: str) -> tuple[str, str]:
    from shared.rules import LABELS

    label, _, pattern = text.partition("=")
    if not label or not pattern:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATTERN such as workspace=ws-scratch, got {text!r}")
    if label not in LABELS:
        raise argparse.ArgumentTypeError(f"unknown label {label!r}: use one of {', '.join(LABELS)}")
    return label, pattern


# The CA bundle belongs to the endpoints the file names (the sandbox's own CA): a machine-wide
# REQUESTS_CA_BUNDLE in the environment must not hide it.
_FILE_WINS = frozenset({"REQUESTS_CA_BUNDLE"})


def _load_settings_file(path: Path) -> None:
    """Values from a local.settings.json; variables already exported win, as with `func start`, except the
    CA bundle when the file names one."""
    try:
        values = json.loads(path.read_text())["Values"]
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"cannot read settings from {path}: {err}") from err
    for name, value in values.items():
        if name in _FILE_WINS and value:
            os.environ[name] = str(value)
        else:
            os.environ.setdefault(name, str(value))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared", description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=Path, help="a local.settings.json whose Values to use")
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help="run one scan now")
    scan.add_argument("name", choices=detectors.scan_names())
    scan.add_argument("--dry-run", action="store_true", help="print incidents and emails; claim and send nothing")
    scan.add_argument("--since", type=_duration, help="replay this far back (30m, 6h, 2d); keeps the watermark")
    commands.add_parser("outbox", help="list incidents and their delivery state")
    show = commands.add_parser("show", help="one incident in full: its state and its email (a digest's key)")
    show.add_argument("key")
    commands.add_parser("deliver", help="send the incidents that are due")
    silence = commands.add_parser("silence", help="mute known problems without a deploy")
    silence_commands = silence.add_subparsers(dest="silence_command", required=True)
    add = silence_commands.add_parser("add", help="add a silence")
    add.add_argument(
        "--match",
        type=_matcher,
        action="append",
        required=True,
        metavar="LABEL=PATTERN",
        help="kind, workspace, experiment, compute, rule or operation; wildcards allowed; repeatable",
    )
    add.add_argument("--for", dest="duration", type=_duration, required=True, help="how long (30m, 4h, 2d)")
    add.add_argument("--reason", required=True, help="why: shown to whoever wonders where their alerts went")
    add.add_argument("--author", help="who adds it (default: the signed-in identity, else $USER)")
    silence_commands.add_parser("list", help="silences that have not ended, with who added them and why")
    expire = silence_commands.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    test_email = commands.add_parser("test-email", help="send one email through ACS, as the app sends (a smoke test)")
    test_email.add_argument("address")
    rules = commands.add_parser("rules", help="the rules file")
    rules.add_argument("rules_command", choices=["check"])
    rules.add_argument("file", nargs="?", type=Path, help="default: the RULES_FILE setting, else rules.yaml")
    rules.add_argument("--strict", action="store_true", help="exit 1 when a rule cannot fire")
    rules.add_argument(
        "--online", action="store_true", help="also ask Azure whether each metric exists on its resources (az login)"
    )
    rules.add_argument("--arm-endpoint", help="with --online: ARM's endpoint (default https://management.azure.com)")
    return parser


def _global_options(argv: list[str]) -> tuple[Path | None, list[str]]:
    """--settings FILE (or --settings=FILE) wherever it is on the command line, and the other arguments."""
    settings, rest, args = None, [], iter(argv)
    for arg in args:
        if arg == "--settings":
            settings = Path(next(args, ""))
        elif arg.startswith("--settings="):
            settings = Path(arg.partition("=")[2])
        else:
            rest.append(arg)
    return settings, rest


def main(argv: list[str] | None = None) -> int:
    settings_file, argv = _global_options(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if settings_file:
        _load_settings_file(settings_file)
    if args.command in ("rules", "silence", "test-email"):
        from shared.cli import few_settings

        if args.command == "rules":  # the rules file alone
            return few_settings.rules_check(args.file, args.strict, args.online, args.arm_endpoint)
        if args.command == "silence":  # the storage settings alone
            return few_settings.silence(args, datetime.now(UTC))
        return few_settings.test_email(args.address, datetime.now(UTC))  # the ACS settings alone

    from shared.app import AlertingApp
    from shared.cli import app_commands
    from shared.rules import RulesError
    from shared.settings import Settings, SettingsError

    try:
        app = AlertingApp(Settings.from_environ())
        app.rules  # noqa: B018 - validate the rules file before doing anything
    except (SettingsError, RulesError) as err:
        print(err, file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    commands: dict[str, Callable[[], int]] = {
        "scan": lambda: app_commands.scan(app, args.name, now, args.dry_run, args.since),
        "deliver": lambda: _print(app.delivery.deliver_due(now).summary()),
        "show": lambda: app_commands.show(app, args.key),
        "outbox": lambda: app_commands.outbox(app),
    }
    return commands[args.command]()


def _print(text: str) -> int:
    print(text)
    return 0
