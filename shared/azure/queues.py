"""Storage queues (azure-storage-queue): the app's two queues and the client that puts JSON messages on them.

The Functions host reads queue messages as base64 (host.json `messageEncoding`, its default), while the Python SDK
sends raw text unless told otherwise: a raw message would go straight to `<queue>-poison` without the function
ever running. So every client here encodes with TextBase64EncodePolicy (and decodes with its twin, for the local
host loop in sandbox/queue_host.py). docs/queues.md has the whole design.
"""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.queue import QueueClient

# The queue names; function_app.py's queue triggers name the same ones (a test checks).
NOTIFICATIONS = "notifications"  # "send these incidents": the webhook, the scans -> send_notifications
SCAN_WORKSPACES = "scan-workspaces"  # "scan this workspace": the scan timers -> scan_workspace
QUEUES = (NOTIFICATIONS, SCAN_WORKSPACES)
# The host's maxDequeueCount (host.json): the last try of a message, after which the host moves it to <queue>-poison.
MAX_DEQUEUE_COUNT = 5
# A message may be hidden for at most 7 days and must expire after it shows; the app's delays are far shorter.
MAX_DELAY = timedelta(days=6)


class Queues:
    """One client per queue, made on first use and reused; a missing queue is created on the first send."""

    def __init__(
        self,
        connection_string: str | None,
        endpoint: str | None,
        credential: TokenCredential | None,
        **client_options: Any,
    ) -> None:
        """`client_options`: azure-core retry and connection options (`retry_total`, `read_timeout`, ...)."""
        if not connection_string and not (endpoint and credential):
            raise ValueError("a connection string, or a queue endpoint and a credential, is needed")
        self._connection_string = connection_string
        self._endpoint = endpoint
        self._credential = credential
        self._options = client_options
        self._clients: dict[str, QueueClient] = {}
        self._lock = threading.Lock()

    def client(self, name: str) -> QueueClient:
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        with self._lock:
            if name not in self._clients:
                codec: dict[str, Any] = {
                    "message_encode_policy": TextBase64EncodePolicy(),
                    "message_decode_policy": TextBase64DecodePolicy(),
                    **self._options,
                }
                self._clients[name] = (
                    QueueClient.from_connection_string(self._connection_string, name, **codec)
                    if self._connection_string
                    else QueueClient(self._endpoint or "", name, credential=self._credential, **codec)
                )
            return self._clients[name]

    def send(self, name: str, body: dict[str, Any], delay: timedelta = timedelta(0)) -> None:
        """Put one JSON message on the queue `name`, visible after `delay` (whole seconds, as the service counts)."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        text = json.dumps(body, separators=(",", ":"))
        seconds = max(0, min(int(MAX_DELAY.total_seconds()), int(delay.total_seconds() + 0.999)))
        client = self.client(name)
        try:
            client.send_message(text, visibility_timeout=seconds or None)
        except ResourceNotFoundError:  # the Bicep creates the queues; Azurite and a new account start without
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            client.send_message(text, visibility_timeout=seconds or None)
