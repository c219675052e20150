"""HTTPS front door: TLS per connection, bearer-token check, routing, faults and JSON answers.

One base URL serves all the services plus the unauthenticated control API under ``/_sandbox/``; the Azure ML
services (ARM, discovery, run history, log blobs) have their own routing and authentication (aml_routes.py).
The server knows nothing about the services' behaviour; it turns requests into calls on the Sandbox and
``ServiceError`` into the error JSON the services answer with.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import aml_routes
from .communication_email import AnswerLost
from .errors import ServiceError
from .faults import AML_SERVICES
from .log_analytics import DEFAULT_WORKSPACE_ID
from .metrics import DEFAULT_REGION
from .teams import answer as teams_answer

if TYPE_CHECKING:
    from .emulator import Sandbox

Answer = tuple[int, Any, dict[str, str]]
Request = dict[str, Any]  # method, match, params, body, headers, base_url


def _logs_query(sb: Sandbox, request: Request) -> Answer:
    return 200, sb.answer_logs_query(request["match"]["workspace"], request["body"]), {}


def _metrics_batch(sb: Sandbox, request: Request) -> Answer:
    match = request["match"]
    return 200, sb.answer_metrics_batch(match["region"], match["subscription"], request["params"], request["body"]), {}


def _metric_definitions(sb: Sandbox, request: Request) -> Answer:
    return 200, sb.metrics.definitions(request["match"]["resource"], request["params"]), {}


def _email_send(sb: Sandbox, request: Request) -> Answer:
    headers = request["headers"]
    accepted, extra = sb.answer_email_send(
        request["body"],
        headers.get("Operation-Id"),
        (headers.get("Repeatability-Request-Id"), headers.get("Repeatability-First-Sent")),
    )
    api_version = request["params"].get("api-version", "")
    location = f"{request['base_url']}/emails/operations/{accepted['id']}?api-version={api_version}"
    return 202, accepted, {"Operation-Location": location, **sb.email_poll_headers, **extra}


def _email_operation(sb: Sandbox, request: Request) -> Answer:
    return 200, sb.answer_email_operation(request["match"]["operation"]), dict(sb.email_poll_headers)


# (method, path pattern, service names for faults, handler); "email-status" fails the status reads alone
_SERVICE_ROUTES: list[tuple[str, re.Pattern[str], tuple[str, ...], Callable[[Sandbox, Request], Answer]]] = [
    ("POST", re.compile(r"/v1/workspaces/(?P<workspace>[^/]+)/query"), ("logs",), _logs_query),
    # Metrics is regional: /metrics/<region> stands for the host https://<region>.metrics.monitor.azure.com.
    (
        "POST",
        re.compile(r"/metrics/(?P<region>[^/]+)/subscriptions/(?P<subscription>[^/]+)/metrics:getBatch"),
        ("metrics",),
        _metrics_batch,
    ),
    # ARM (management.azure.com) answers the metric definitions of any resource: `rules check --online`.
    (
        "GET",
        re.compile(r"(?P<resource>/subscriptions/.+?)/providers/microsoft\.insights/metricdefinitions", re.IGNORECASE),
        ("metrics",),
        _metric_definitions,
    ),
    ("POST", re.compile(r"/emails:send"), ("email",), _email_send),
    ("GET", re.compile(r"/emails/operations/(?P<operation>[^/]+)"), ("email", "email-status"), _email_operation),
]


def _aml_control(sb: Sandbox, method: str, action: str, body: Any) -> Answer | None:
    """The Azure ML part of the control API: pipelines (the model's JSON), schedules, faults, the request log;
    None for any other action."""
    body = body if isinstance(body, dict) else {}
    if method == "GET" and action == "aml-requests":
        return 200, sb.aml.requests, {}
    if method == "POST" and action == "pipelines":
        sb.add_pipeline(body["run"], body.get("workspace_id") or DEFAULT_WORKSPACE_ID)
    elif method == "POST" and action == "schedules":
        sb.add_schedule(body["workspace"], body["name"], body["trigger"], **body.get("options", {}))
    elif method == "POST" and action == "faults" and body.get("service") in AML_SERVICES:
        count, retry_after, status = body.get("count"), body.get("retry_after"), body.get("status")
        sb.faults.fail_service(
            body["service"],
            None if status is None else int(status),
            workspace=body.get("workspace"),
            count=None if count is None else int(count),
            retry_after=None if retry_after is None else int(retry_after),
            delay=float(body.get("delay", 0)),
        )
    else:
        return None
    return 200, {"ok": True, "now": sb.now.isoformat()}, {}


def _control(sb: Sandbox, method: str, action: str, body: Any) -> Answer:
    """The ``/_sandbox/`` API: the same operations as the Python interface, for other processes."""
    body = body if isinstance(body, dict) else {}
    if method == "GET" and action == "emails":
        return 200, sb.emails, {}
    if method == "GET" and action == "queries":
        return 200, sb.queries, {}
    if method == "GET" and action == "clock":
        return 200, {"now": sb.now.isoformat()}, {}
    if method == "POST" and action == "clock":
        sb.set_clock(body["now"])
    elif method == "POST" and action == "advance":
        sb.advance(timedelta(seconds=float(body["seconds"])))
    elif method == "POST" and action == "rows":
        kwargs = {"workspace_id": body["workspace_id"]} if body.get("workspace_id") else {}
        sb.add_rows(body["table"], body["rows"], **kwargs)
    elif method == "POST" and action == "workspaces":
        sb.add_workspace(body["workspace_id"])
    elif method == "POST" and action == "metrics":
        sb.add_metric_series(
            body["resource_id"],
            body["namespace"],
            body["metric"],
            body["points"],
            body.get("dimensions"),
            body.get("unit", "Count"),
            body.get("region", DEFAULT_REGION),
        )
    elif method == "POST" and action == "faults" and body.get("workspace_id"):
        count, retry_after = body.get("count"), body.get("retry_after")
        sb.fail_workspace(
            body["workspace_id"],
            int(body["status"]),
            None if count is None else int(count),
            None if retry_after is None else int(retry_after),
        )
    elif method == "POST" and action == "faults":
        sb.fail_next(body["service"], int(body["status"]), int(body.get("count", 1)))
    elif method == "POST" and action == "reset":
        sb.reset()
    else:
        raise ServiceError(404, "PathNotFoundError", f"No control endpoint {method} /_sandbox/{action}")
    return 200, {"ok": True, "now": sb.now.isoformat()}, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo read their own output, not an access log."""

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        try:
            status, payload, headers = self._answer(method, path, url.query)
        except AnswerLost as lost:  # accepted, and the 202 never arrives
            if lost.status is None:
                self.close_connection = True
                return
            status, payload, headers = (
                lost.status,
                {"error": {"code": "GatewayTimeout", "message": ("The gateway did not receive a timely answer.")}},
                {"retry-after-ms": "10"},
            )
        except ServiceError as exc:
            status, headers = exc.status, exc.headers
            payload, headers["Content-Type"] = exc.payload()
        except (KeyError, TypeError, ValueError) as exc:
            status, payload, headers = 400, {"error": {"code": "BadRequest", "message": repr(exc)}}, {}
        if isinstance(payload, bytes):  # a blob, or an XML error: its Content-Type is in its headers
            data = payload
        else:
            data, headers = json.dumps(payload).encode(), {"Content-Type": "application/json; charset=utf-8", **headers}
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, method: str, path: str, query: str) -> Answer:
        sb = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise ServiceError(400, "BadRequest", f"The request body is not JSON: {exc}") from exc
        teams = teams_answer(sb, method, path, query, body, len(raw), self.headers)  # signed by its URL, no token
        if teams is not None:
            return teams
        if path.startswith("/_sandbox/"):
            action = path.removeprefix("/_sandbox/").strip("/")
            return _aml_control(sb, method, action, body) or _control(sb, method, action, body)
        base_url = f"https://{self.headers.get('Host', self.server.host_port)}"
        aml = aml_routes.answer(sb, method, urlsplit(self.path).path, query, self.headers, base_url, body)
        if aml is not None:
            return aml
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not authorization.removeprefix("Bearer ").strip():
            raise ServiceError(401, "AuthenticationFailed", "Valid authentication was not provided.")
        for route_method, pattern, services, handler in _SERVICE_ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                for service in services:
                    time.sleep(sb.faults.take_delay(service))
                    sb.faults.raise_if_armed(service, sb.now)
                params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
                request = {
                    "match": match.groupdict(),
                    "params": params,
                    "body": body,
                    "headers": self.headers,
                    "base_url": base_url,
                }
                return handler(sb, request)
        raise ServiceError(404, "PathNotFoundError", "The requested path does not exist")


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server that does the TLS handshake in each connection's own thread, so one slow or
    distrustful client cannot hold up the accept loop."""

    daemon_threads = True

    def __init__(self, port: int, context: ssl.SSLContext, sandbox: Sandbox) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.context = context
        self.sandbox = sandbox

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hangs up or rejects the certificate is not the sandbox's problem."""
