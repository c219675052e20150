"""Teams Workflows webhooks: the trigger "When a Teams webhook request is received" and the flow behind it
(template "Send webhook alerts to a channel": post each Adaptive Card attachment to the channel).

The trigger URL looks like the one the Workflows app hands out now, on the sandbox's host:
``/powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke?api-version=1&sp=...&sv=1.0&sig=...``.
What the trigger answers (Logic Apps' error shape ``{"error": {"code", "message"}}``):
- no ``sp``/``sv``/``sig``: 401 DirectApiAuthorizationRequired; a wrong ``sig``: 401
  DirectApiInvalidAuthorizationSignature; an unknown workflow: 404 WorkflowNotFound; an Authorization header
  besides the signature: 400 DirectApiRequestHasMoreThanOneAuthorization (the codes and texts Logic Apps users
  report; the sandbox's choice where unrecorded: a body that is not JSON is 400);
- otherwise 202 with no body, as Workflows answers; then the flow runs.
A run posts each card to the channel, or fails, as the real flow does after its 202: the sender is not told. A
run fails when the payload is not a `message` with Adaptive Card attachments (the flow's "for each attachment"),
when it is over Teams' ~28 KB message limit, when a card declares a version newer than Teams renders (1.5), or
when Microsoft's Adaptive Cards library reports a problem with a card at its declared version
(tools/card_check). Failed runs keep the reasons (`runs`); posted cards are in `posted`.

Faults (`fail_next`, `fail_during`): posts answer 400, 429 (with Retry-After) or 5xx instead, after the signature
check; `lose_answer_next`: a post is accepted and its card posted, and the connection is cut before the 202.
Control API: `POST /_sandbox/teams/webhooks {"name"}` -> `{"url"}`, `GET /_sandbox/teams` -> the runs,
`POST /_sandbox/teams/faults {"status", "count", "retry_after"}`.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import threading
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .communication_email import AnswerLost
from .errors import ServiceError
from .timeutil import format_datetime

if TYPE_CHECKING:
    from .emulator import Sandbox

INVOKE_PATH = r"/powerautomate/automations/direct/workflows/(?P<workflow>[0-9a-f]{32})/triggers/manual/paths/invoke"
CHECK_SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "card_check" / "check.mjs"
MESSAGE_LIMIT_BYTES = 28 * 1024
TEAMS_MAX_VERSION = (1, 5)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
FAULTS = {
    400: "BadRequest",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_INVOKE = re.compile(INVOKE_PATH)


def answer(
    sb: Sandbox, method: str, path: str, query: str, body: Any, size: int, headers: Any
) -> tuple[int, Any, dict[str, str]] | None:
    """The server's answer to a Teams webhook post or a Teams control call; None for any other request."""
    invoke = _INVOKE.fullmatch(path)
    if invoke and method == "POST":
        params = {key: values[-1] for key, values in parse_qs(query).items()}
        sb.answer_teams_invoke(invoke["workflow"], params, body, size, headers.get("Authorization"))
        if sb.teams.take_lost_answer():
            raise AnswerLost(invoke["workflow"], None)  # accepted and run; the connection is cut before the 202
        return 202, b"", {}  # Workflows answers 202 with no body
    body = body if isinstance(body, dict) else {}
    if method == "GET" and path == "/_sandbox/teams":
        return 200, sb.teams_runs, {}
    if method == "POST" and path == "/_sandbox/teams/webhooks":
        return 200, {"url": sb.add_teams_webhook(body.get("name") or "alerts")}, {}
    if method == "POST" and path == "/_sandbox/teams/faults":
        retry_after = body.get("retry_after")
        sb.fail_teams(int(body["status"]), int(body.get("count", 1)), None if retry_after is None else int(retry_after))
        return 200, {"ok": True, "now": sb.now.isoformat()}, {}
    return None


class CardValidator:
    """Microsoft's Adaptive Cards library in one long-running node process (tools/card_check/check.mjs)."""

    def __init__(self, script: Path = CHECK_SCRIPT) -> None:
        self._script = script
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def problems(self, card: Any) -> list[str]:
        with self._lock:
            process = self._process or self._start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({"card": card}) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
        if not answer:
            self.close()
            raise ServiceError(500, "SandboxError", f"sandbox: {self._script.name} stopped; run `npm ci`")
        return list(json.loads(answer)["problems"])

    def _start(self) -> subprocess.Popen[str]:
        node = shutil.which("node")
        if node is None:
            raise ServiceError(500, "SandboxError", "sandbox: `node` is needed to validate Adaptive Cards")
        self._process = subprocess.Popen(
            [node, str(self._script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=self._script.parent,
        )
        return self._process

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            process.stdin.close()  # the script ends at the end of its input
            process.wait(timeout=10)


class Workflows:
    """Registered webhooks (name -> workflow id and signature), the runs their posts started, posted cards."""

    def __init__(self, validator: CardValidator | None = None) -> None:
        self._lock = threading.Lock()
        self._webhooks: dict[str, tuple[str, str]] = {}  # workflow id -> (name, sig)
        self._runs: list[dict[str, Any]] = []
        self._faults: deque[tuple[int, int | None]] = deque()  # (status, Retry-After) of the next posts
        self._windows: list[tuple[int, int | None, datetime, datetime]] = []
        self.raised = 0  # fault answers given
        self._lost_answers = 0
        self.validator = validator or CardValidator()

    def add_webhook(self, name: str) -> tuple[str, str]:
        """A new webhook for the channel `name`: its (workflow id, sig)."""
        workflow_id, sig = secrets.token_hex(16), secrets.token_urlsafe(32)
        with self._lock:
            self._webhooks[workflow_id] = (name, sig)
        return workflow_id, sig

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every accepted post: webhook, received_at, status (Succeeded/Failed), error, payload."""
        with self._lock:
            return [dict(run) for run in self._runs]

    @property
    def posted(self) -> list[dict[str, Any]]:
        """The cards that reached a channel: webhook, posted_at, card."""
        return [
            {"webhook": run["webhook"], "posted_at": run["received_at"], "card": card}
            for run in self.runs
            if run["status"] == "Succeeded"
            for card in run["cards"]
        ]

    def clear(self) -> None:
        """Forget the runs and faults; the webhooks stay (the app's settings hold their URLs)."""
        with self._lock:
            self._runs.clear()
            self._faults.clear()
            self._windows.clear()
            self.raised = self._lost_answers = 0

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        _check_fault(status)
        with self._lock:
            self._faults.extend([(status, retry_after)] * count)

    def fail_during(self, status: int, start: datetime, end: datetime, retry_after: int | None = None) -> None:
        _check_fault(status)
        with self._lock:
            self._windows.append((status, retry_after, start, end))

    def lose_answer_next(self, count: int = 1) -> None:
        with self._lock:
            self._lost_answers += count

    def take_lost_answer(self) -> bool:
        with self._lock:
            lost, self._lost_answers = self._lost_answers > 0, max(0, self._lost_answers - 1)
        return lost

    def raise_if_failing(self, now: datetime) -> None:
        """The armed fault of this post, if any: the next one, or a window around *now*."""
        with self._lock:
            fault = (
                self._faults.popleft()
                if self._faults
                else next(((status, wait) for status, wait, start, end in self._windows if start <= now < end), None)
            )
            self.raised += fault is not None
        if fault is not None:
            status, retry_after = fault
            wait = retry_after if retry_after is not None else 0 if status == 429 else None
            raise ServiceError(
                status,
                FAULTS[status],
                f"Sandbox fault: {status} armed for Teams",
                {} if wait is None else {"Retry-After": str(wait)},
            )

    def authorise(self, workflow_id: str, params: dict[str, str], authorization: str | None) -> str:
        """The webhook's name, or the error the trigger answers."""
        with self._lock:
            found = self._webhooks.get(workflow_id)
        if found is None:
            raise ServiceError(404, "WorkflowNotFound", "The workflow could not be found.")
        if authorization:
            raise ServiceError(
                400,
                "DirectApiRequestHasMoreThanOneAuthorization",
                "The request has SAS authentication scheme and 'Bearer' authorization scheme. "
                "Only one scheme should be used.",
            )
        if not all(params.get(key) for key in ("sp", "sv", "sig")):
            raise ServiceError(
                401, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme."
            )
        name, sig = found
        if not secrets.compare_digest(params["sig"], sig):
            raise ServiceError(
                401, "DirectApiInvalidAuthorizationSignature", "The provided authorization signature is not valid."
            )
        return name

    def run(self, name: str, payload: Any, size: int, now: Any) -> None:
        """The flow's run for one accepted post."""
        error, cards = self._check(payload, size)
        with self._lock:
            self._runs.append(
                {
                    "webhook": name,
                    "received_at": format_datetime(now),
                    "status": "Failed" if error else "Succeeded",
                    "error": error,
                    "cards": cards,
                    "payload": payload,
                }
            )

    def _check(self, payload: Any, size: int) -> tuple[dict[str, Any] | None, list[Any]]:
        message = payload if isinstance(payload, dict) else {}
        attachments = message.get("attachments")
        if message.get("type") != "message" or not isinstance(attachments, list) or not attachments:
            return _error(
                "InvalidTemplate",
                "The payload is not a message with a list of attachments: the flow's "
                "'for each attachment' has nothing to post.",
            ), []
        if size > MESSAGE_LIMIT_BYTES:
            return _error("RequestEntityTooLarge", f"The message is {size} bytes; Teams takes about 28 KB."), []
        cards, problems = [], []
        for index, attachment in enumerate(attachments):
            card = attachment.get("content") if isinstance(attachment, dict) else None
            if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_CONTENT_TYPE:
                problems.append(f"attachments[{index}]: contentType must be {CARD_CONTENT_TYPE}")
                continue
            found = [f"attachments[{index}].content: {problem}" for problem in self._card_problems(card)]
            problems += found
            cards.append(card)
        return (_error("InvalidCard", "; ".join(problems)) if problems else None), ([] if problems else cards)

    def _card_problems(self, card: Any) -> list[str]:
        version = card.get("version") if isinstance(card, dict) else None
        try:
            too_new = tuple(int(part) for part in str(version).split(".")) > TEAMS_MAX_VERSION
        except ValueError:
            too_new = False  # the library reports a version it does not know
        if too_new:
            return [f"version {version} is newer than Teams renders (up to 1.5)"]
        if isinstance(card, dict) and card.get("type") != "AdaptiveCard":
            return [f"type must be AdaptiveCard, not {card.get('type')!r}"]
        return self.validator.problems(card)


def _check_fault(status: int) -> None:
    if status not in FAULTS:
        raise ValueError(f"status must be one of {sorted(FAULTS)}, not {status}")


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}
