"""A TCP gate in front of Azurite: open, it passes bytes both ways untouched; closed, the table service is
"briefly unavailable" - every request is answered ``503 ServerBusy`` (as Storage answers when it cannot serve)
and connections in flight are cut.

The 503 carries ``retry-after-ms`` (default 1): the SDK's retries of a request then follow the clock of a
simulation rather than seconds of wall-time backoff. The outcome is the same: the call fails after its retries.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

_BODY = (
    b'{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US",'
    b'"value":"The server is currently unable to receive requests. Please retry your request."}}}'
)


class TableGate:
    def __init__(self, target_port: int, retry_after_ms: int = 1) -> None:
        self._target = ("127.0.0.1", target_port)
        self._retry_after_ms = retry_after_ms
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self.refused = 0  # requests answered 503 while closed
        threading.Thread(target=self._accept, name="table-gate", daemon=True).start()

    @property
    def is_open(self) -> bool:
        return self._open

    def close_gate(self) -> None:
        with self._lock:
            self._open = False
            live, self._live = list(self._live), set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def open_gate(self) -> None:
        with self._lock:
            self._open = True

    def stop(self) -> None:
        self.close_gate()
        self._listener.close()

    def connection_string(self, azurite: str) -> str:
        """The Azurite connection string with its table endpoint moved behind the gate."""
        head, _, tail = azurite.partition("TableEndpoint=http://127.0.0.1:")
        return f"{head}TableEndpoint=http://127.0.0.1:{self.port}{tail[tail.index('/') :]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            target = "_pipe" if self._open else "_refuse"
            threading.Thread(target=getattr(self, target), args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        with self._lock:
            if not self._open:
                server.close()
                self._refuse(client)
                return
            self._live.update((client, server))
        threading.Thread(target=_copy, args=(server, client), daemon=True).start()
        _copy(client, server)

    def _refuse(self, client: socket.socket) -> None:
        with client:
            for _ in _requests(client):
                self.refused += 1
                headers = (
                    f"HTTP/1.1 503 The server is busy.\r\nContent-Type: application/json\r\n"
                    f"x-ms-error-code: ServerBusy\r\nretry-after-ms: {self._retry_after_ms}\r\n"
                    f"Content-Length: {len(_BODY)}\r\nConnection: close\r\n\r\n"
                )
                with contextlib.suppress(OSError):
                    client.sendall(headers.encode() + _BODY)
                return


def _requests(client: socket.socket) -> Iterator[None]:
    """Read one request head (and its body, by Content-Length), then yield."""
    data = b""
    client.settimeout(5)
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = client.recv(65536)
            if not chunk:
                break
            body += chunk
        yield


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
