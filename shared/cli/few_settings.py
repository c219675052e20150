"""The commands that need few app settings or none: `rules check` (the rules file alone), `silence` (the storage
settings alone, and only the `silences` table: on-call's role, docs/on-call-silences.md) and `test-email` (the ACS
settings alone: azd's postdeploy hook has them as deployment outputs)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shared import detectors


def rules_path(path: Path | None) -> Path:
    """The rules file: the one given, else RULES_FILE (relative to the app root, as the app reads it), else
    rules.yaml."""
    from shared.settings import APP_ROOT

    if path is None:
        path = Path(os.environ.get("RULES_FILE") or "rules.yaml")
        path = path if path.is_absolute() else APP_ROOT / path
    return path


def rules_check(path: Path | None, strict: bool, online: bool = False, arm_endpoint: str | None = None) -> int:
    """Needs no app settings; --online needs a credential (AZURE_CREDENTIAL, default: your az login)."""
    from shared.channels import CHANNELS
    from shared.rules import RulesError
    from shared.rules_yaml import check_rules
    from shared.settings import SettingsError

    path = rules_path(path)
    kinds = [spec.kind for spec in detectors.DETECTORS]
    now = datetime.now(UTC)
    workspaces = _workspace_names(now) if online else None
    try:
        metrics = _metric_lookup(arm_endpoint) if online else None
        rules, warnings = check_rules(path, now, kinds, tuple(CHANNELS), workspaces=workspaces, metrics=metrics)
    except (RulesError, SettingsError) as err:
        print(err, file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}")
    print(
        f"{path}: valid ({len(rules.metric_rules)} metric rule(s), {len(rules.routes)} route(s), "
        f"{len(rules.silences)} silence(s), storm limit {rules.storm_limit})"
        + (f"; {len(warnings)} warning(s) above" if warnings else "")
    )
    return 1 if strict and warnings else 0


def _workspace_names(now: datetime) -> list[str] | None:
    """The Azure ML workspaces that logged runs to LOG_ANALYTICS_WORKSPACE_IDS within SCAN_LOOKBACK_HOURS; None
    (and a note saying why) when they cannot be read: the workspace patterns are then not checked."""
    import time

    from shared.azure.credentials import azure_credential
    from shared.azure.log_analytics import LogAnalytics, QueryFailed
    from shared.core.kql import aml_workspace_names_query
    from shared.settings import SettingsError, some_settings

    fields = ("workspace_ids", "log_analytics_endpoint", "credential_kind", "credential_client_id", "scan_lookback")
    try:
        s = some_settings(*fields)
        logs = LogAnalytics(
            s["log_analytics_endpoint"], azure_credential(s["credential_kind"], s["credential_client_id"])
        )
        names: set[str] = set()
        for workspace_id in s["workspace_ids"]:
            found = logs.query(
                workspace_id, aml_workspace_names_query(), now - s["scan_lookback"], now, time.monotonic() + 60
            )
            names.update(str(row["WorkspaceName"]) for row in found.rows)
    except (SettingsError, QueryFailed) as err:
        reason = str(err).replace("Invalid app settings:", "").strip().splitlines()[0].lstrip("- ")
        print(f"note: workspace patterns not checked: {reason}")
        return None
    return sorted(names)


def _metric_lookup(arm_endpoint: str | None) -> Callable[[str, str], list[str] | str]:
    """resource id, namespace -> its metric names, or why not, from ARM's metric definitions."""
    from shared.azure.arm import ARM_ENDPOINT
    from shared.azure.credentials import azure_credential
    from shared.azure.failures import Unavailable
    from shared.azure.metric_definitions import MetricDefinitions
    from shared.core.budget import Budget
    from shared.settings import some_settings

    read = some_settings("credential_kind", "credential_client_id")
    credential = azure_credential(read["credential_kind"], read["credential_client_id"])
    client = MetricDefinitions(credential, endpoint=arm_endpoint or ARM_ENDPOINT)
    budget = Budget(120)

    def names(resource_id: str, namespace: str) -> list[str] | str:
        found = client.names(resource_id, namespace, budget)
        return found.reason if isinstance(found, Unavailable) else found

    return names


def silence(args: argparse.Namespace, now: datetime) -> int:
    """Reads only the storage settings (and the rules file for `list`) and touches only the `silences` table:
    on-call's role (docs/on-call-silences.md)."""
    from azure.core.exceptions import AzureError
    from pydantic import ValidationError

    from shared.rules import Match, RulesError, Silence
    from shared.rules_yaml import load_rules
    from shared.settings import SettingsError
    from shared.silences import open_silence_store

    try:
        store, signed_in = open_silence_store()
        if args.silence_command == "add":
            match = Match(**dict(args.match))
            author = args.author or signed_in
            silence = Silence(match=match, starts=now, ends=now + args.duration, reason=args.reason, author=author)
            print(f"added {store.add(silence).describe()}")
            return 0
        if args.silence_command == "expire":
            found = store.expire(args.id, now)
            print(f"silence {args.id} {'ended' if found else 'not found'}")
            return 0 if found else 1
        planned = [s for s in load_rules(rules_path(None)).silences if s.active(now)]
        for silence in [*planned, *store.active(now)]:
            print(silence.describe() + ("" if silence.id else "  (rules file)"))
        return 0
    except ValidationError as err:
        print(f"invalid silence: {err.errors()[0]['msg']}", file=sys.stderr)
    except (SettingsError, RulesError) as err:
        print(err, file=sys.stderr)
    except AzureError as err:  # no role on the table, not signed in, wrong account
        reason = (getattr(err, "message", None) or str(err)).splitlines()[0]
        print(f"the silences table could not be used: {reason} (access: docs/on-call-silences.md)", file=sys.stderr)
    return 2


def test_email(address: str, now: datetime) -> int:
    """One email to `address` through the app's email channel (its ACS client, as the channel table builds it)."""
    import uuid

    from shared.azure.credentials import azure_credential
    from shared.channels.email import EmailChannel
    from shared.channels.email.acs import AcsEmail
    from shared.channels.email.render import render_test_email
    from shared.detectors.base import ViewOptions
    from shared.outbox.channel import SUCCEEDED, SendFailed
    from shared.settings import SettingsError, some_settings

    try:
        s = some_settings("acs_endpoint", "email_sender", "credential_kind", "credential_client_id")
    except SettingsError as err:
        print(err, file=sys.stderr)
        return 2
    credential = azure_credential(s["credential_kind"], s["credential_client_id"])
    channel = EmailChannel(AcsEmail(s["acs_endpoint"], credential, s["email_sender"]), ViewOptions())
    try:
        status = channel.send(render_test_email(s["email_sender"], now), (address,), str(uuid.uuid4()), now, wait=True)
    except SendFailed as err:
        print(f"not sent: {err}", file=sys.stderr)
        return 1
    final = "delivered to ACS (Succeeded)" if status == SUCCEEDED else "accepted by ACS; final status not known yet"
    print(f"test email to {address} from {s['email_sender']} via {s['acs_endpoint']}: {final}")
    return 0
