"""The last lines of a step's log, read from the read-only SAS URL run history hands out, with HTTP ranges.

Blob storage has no suffix range (`bytes=-N`), so: `x-ms-range: bytes=0-0` gives the size in `Content-Range`
(`bytes 0-0/<size>`; 416 = an empty blob), then `bytes=<size - 64 KiB>-<size - 1>` the tail. It is decoded as
UTF-8 with replacement, the first (partial) line is dropped when the read started mid-file, the last ~50 lines
are kept, and every line is redacted (`shared.core.redact`): a log prints secrets more often than one thinks.

A SAS URL is a bearer secret for its blob:
- it lives only in `SecretUrl`, whose repr and str show the host and path, never the query;
- it is fetched only over https from an allowed blob host (`*.blob.core.windows.net` by default; a sovereign
  cloud's or the sandbox's when configured), with no Authorization header and no redirect;
- no message carries it: failures are built from the status and the storage error code, never from an
  exception's text (requests puts the URL in those), and urllib3's debug lines about it are redacted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from shared.azure.failures import Failure, Unavailable, failure_from_response
from shared.azure.http import host_allowed, send
from shared.core.budget import Budget
from shared.core.redact import redact

SERVICE = "log storage"
BLOB_HOSTS = (".blob.core.windows.net",)  # public cloud; sovereign: .blob.core.usgovcloudapi.net, ...chinacloudapi.cn
TAIL_BYTES = 64 * 1024
TAIL_LINES = 50
STORAGE_VERSION = "2021-08-06"
_CONTENT_RANGE = re.compile(r"^bytes (?:\d+-\d+|\*)/(\d+)$")
_HINTS = {403: "the log link was refused or has expired", 404: "the log file is gone"}
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.poolmanager")

# Which log azure-ai-ml streams for a job, in order (constants/_job/job.py JobLogPattern and
# operations/_job_ops_helper.py): the common runtime's user log (rank 0 first), all user logs, the legacy
# runtime's driver log, the other legacy logs, a pipeline's execution log, a sweep's log.
_LOG_TIERS = tuple(
    re.compile(pattern)
    for pattern in (
        r"user_logs/std_log[\D]*[0]*(?:_ps)?\.txt",
        r"user_logs/std_log.*\.txt",
        r"azureml-logs/70_driver_log.*\.txt",
        r"azureml-logs/[\d]{2}.+\.txt",
        r"logs/azureml/executionlogs\.txt",
        r"azureml-logs/hyperdrive\.txt",
    )
)
_PRIMARY = re.compile(r"(?:rank|worker|process)_0+(?:\D|$)")


class SecretUrl:
    """A SAS URL: `reveal()` gives it to the one call that fetches it; everything else sees host and path."""

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    def reveal(self) -> str:
        return self._url

    @property
    def host(self) -> str:
        return urlsplit(self._url).hostname or ""

    def __repr__(self) -> str:
        parts = urlsplit(self._url)
        return f"SecretUrl('{parts.scheme}://{parts.netloc}{parts.path}?…')"

    __str__ = __repr__


@dataclass(frozen=True)
class LogTail:
    file_name: str  # e.g. user_logs/std_log.txt
    lines: tuple[str, ...]  # the last lines, redacted
    size: int  # bytes in the file
    truncated: bool  # earlier lines exist and are not shown


def pick_log_file(names: Iterable[str]) -> str | None:
    """The log to tail among a run's log files, by azure-ai-ml's rules: the first tier with a match; in it, the
    primary instance (rank_0 / worker_0 / process_0) or else the first name in order."""
    names = list(names)
    for tier in _LOG_TIERS:
        matching = sorted(name for name in names if tier.match(name))
        if matching:
            return next((name for name in matching if _PRIMARY.search(name)), matching[0])
    return None


def last_lines(data: bytes, *, mid_file: bool, max_lines: int = TAIL_LINES) -> tuple[list[str], bool]:
    """The last `max_lines` lines of `data` (redacted) and whether earlier lines were cut. `mid_file`: the data
    starts inside the file, so its first line is partial and is dropped."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    cut = mid_file
    if mid_file and lines:
        lines = lines[1:]
    if len(lines) > max_lines:
        lines, cut = lines[-max_lines:], True
    return [redact(line) for line in lines], cut


class LogBlobs:
    """Reads of log blobs by SAS URL: no credential, no redirect, no URL in any message or log line."""

    def __init__(
        self,
        *,
        allowed_hosts: tuple[str, ...] = BLOB_HOSTS,
        call_seconds: float = 15.0,
        retry_total: int = 1,
        transport: Any = None,
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, RequestIdPolicy, UserAgentPolicy

        from shared.azure.http import MIN_CALL_SECONDS, USER_AGENT
        from shared.azure.retry import deadline_retry_policy

        _redact_urllib3_logs()
        self.allowed_hosts = allowed_hosts
        self.call_seconds = call_seconds
        # No HttpLoggingPolicy either: it would log the parameter names (`sig=REDACTED`) of every URL.
        self._client: Any = PipelineClient(
            "",
            transport=transport,
            policies=[
                RequestIdPolicy(),
                HeadersPolicy({"x-ms-version": STORAGE_VERSION}),
                UserAgentPolicy(USER_AGENT),
                deadline_retry_policy(SERVICE, retry_total=retry_total, min_call_seconds=MIN_CALL_SECONDS),
            ],
        )

    def tail(
        self,
        file_name: str,
        url: SecretUrl,
        budget: Budget,
        *,
        max_lines: int = TAIL_LINES,
        max_bytes: int = TAIL_BYTES,
    ) -> LogTail | Unavailable:
        if not host_allowed(url.reveal(), self.allowed_hosts):
            return Unavailable(
                SERVICE,
                Failure.REFUSED,
                f"{SERVICE}: the log link of {file_name} is not an https link to an allowed storage host; not fetched",
            )
        first = self._range(url, budget, 0, 0, file_name)
        if isinstance(first, Unavailable):
            return first
        status, size, data = first
        if status == 416 or size == 0:
            return LogTail(file_name, (), 0, False)
        start = 0 if status == 200 else max(0, size - max_bytes)
        if status == 206 and size > 1:
            rest = self._range(url, budget, start, size - 1, file_name)
            if isinstance(rest, Unavailable):
                return rest
            data = rest[2]
        lines, cut = last_lines(data[-max_bytes:], mid_file=start > 0 or len(data) > max_bytes, max_lines=max_lines)
        return LogTail(file_name, tuple(lines), size, cut)

    def _range(
        self, url: SecretUrl, budget: Budget, start: int, end: int, file_name: str
    ) -> tuple[int, int, bytes] | Unavailable:
        """(status, size of the blob, bytes) for bytes start..end: 206, or 200 when the range was ignored, or
        416 for an empty blob."""
        response = send(
            self._client,
            SERVICE,
            url.reveal(),
            budget,
            self.call_seconds,
            headers={"x-ms-range": f"bytes={start}-{end}"},
        )
        if isinstance(response, Unavailable):
            return response
        status = response.status_code
        if status == 416:
            return 416, 0, b""
        if status not in (200, 206):
            found = failure_from_response(SERVICE, response, _HINTS)
            return Unavailable(SERVICE, found.failure, f"{found.reason} ({file_name})", found.status, found.code)
        data = response.content
        if status == 200:
            return 200, len(data), data
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match:
            return Unavailable(
                SERVICE, Failure.BAD_ANSWER, f"{SERVICE} answered a range without Content-Range ({file_name})", status
            )
        return 206, int(match.group(1)), data


class _RedactFilter(logging.Filter):
    """Rewrites a record's message and arguments through `redact` (urllib3 logs request paths with queries)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


@cache
def _redact_urllib3_logs() -> None:
    for name in _URLLIB3_LOGGERS:
        logging.getLogger(name).addFilter(_RedactFilter())
