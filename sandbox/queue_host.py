"""The Functions host's queue listener, locally (never deployed): feeds Azurite queue messages to function_app's real
queue functions, as `azure.functions.QueueMessage` objects, the way the host does in Azure
(../shared/reference/functions-queues.md §2, the host's QueueListener and QueueProcessor):

    receive up to batchSize messages, each locked (invisible) for LOCK while it runs
    dequeueCount > maxDequeueCount       -> to `<queue>-poison` without running (earlier tries crashed the host)
    a body that is not base64            -> to `<queue>-poison` without running
    the function returns                 -> the message is deleted
    the function raises, tries left      -> shown again after host.json's visibilityTimeout
    the function raises, last try        -> copied to `<queue>-poison` (a new message), then deleted
    the process dies mid-run (`HostDied`) -> nothing: the message shows again when its lock runs out

batchSize, visibilityTimeout and maxDequeueCount come from host.json; `lock` and `visibility` can be shortened
(the simulation's clock runs faster than the wall clock). Messages of one batch run in `threads` threads
(1: one after another, as the tests want it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


class HostDied(BaseException):
    """Raised inside a function to stand for the host process dying: the message is left locked, as it would be."""


def _span(text: str) -> timedelta:
    hours, minutes, seconds = (float(part) for part in text.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


HOST_QUEUES = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
BATCH_SIZE = int(HOST_QUEUES["batchSize"])
VISIBILITY = _span(HOST_QUEUES["visibilityTimeout"])
MAX_DEQUEUE_COUNT = int(HOST_QUEUES["maxDequeueCount"])
LOCK = timedelta(minutes=10)  # the host's lock while a function runs (not configurable)


def app_functions() -> dict[str, Callable[[Any], None]]:
    """function_app's queue-triggered functions by queue name, as the host finds them."""
    from azure.functions.decorators.function_app import FunctionBuilder

    import function_app

    functions = {}
    builders = [value for value in vars(function_app).values() if isinstance(value, FunctionBuilder)]
    for function in (builder.build() for builder in builders):
        trigger = function.get_trigger()
        if trigger is not None and trigger.get_binding_name() == "queueTrigger":
            functions[trigger.get_dict_repr()["queueName"]] = function.get_user_function()
    return functions


def app_use_cases(app: Any, clock: Callable[[], Any]) -> dict[str, Callable[[Any], None]]:
    """The same use cases as function_app's queue functions, of one app instance and on a given clock (the
    simulation's and the demo's simulated time; several instances in one process)."""
    return {
        "notifications": lambda message: app.send_notifications(message.get_body(), message.dequeue_count, clock()),
        "scan-workspaces": lambda message: app.scan_workspace(message.get_body(), message.dequeue_count, clock()),
    }


@dataclass
class Tally:
    ran: int = 0
    failed: int = 0
    poisoned: int = 0
    died: int = 0
    by_queue: dict[str, int] = field(default_factory=dict)


class QueueHost:
    def __init__(
        self,
        connection_string: str,
        functions: Mapping[str, Callable[[Any], None]] | None = None,
        *,
        lock: timedelta = LOCK,
        visibility: timedelta = VISIBILITY,
        threads: int = 1,
    ) -> None:
        from azure.storage.queue import QueueServiceClient

        self._service = QueueServiceClient.from_connection_string(connection_string)  # raw text: decoded here
        self._functions = dict(functions if functions is not None else app_functions())
        self._lock = lock
        self._visibility = visibility
        self._threads = threads
        self.tally = Tally()

    def run_once(self, queue: str) -> int:
        """One receive of up to batchSize visible messages of `queue`, each run to its end; how many there were."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self._service.get_queue_client(queue)
        try:
            messages = list(
                client.receive_messages(
                    messages_per_page=BATCH_SIZE,
                    max_messages=BATCH_SIZE,
                    visibility_timeout=max(1, int(self._lock.total_seconds())),
                )
            )
        except ResourceNotFoundError:  # the host does not create a trigger queue; it waits for it
            return 0
        if self._threads > 1 and len(messages) > 1:
            with ThreadPoolExecutor(self._threads) as pool:
                list(pool.map(lambda message: self._process(queue, client, message), messages))
        else:
            for message in messages:
                self._process(queue, client, message)
        return len(messages)

    def drain(self, queues: tuple[str, ...] | None = None, max_rounds: int = 1000) -> int:
        """Run until no queue has a visible message (a hidden one, delayed or locked, waits); messages run."""
        names = queues or tuple(self._functions)
        total = 0
        for _ in range(max_rounds):
            ran = sum(self.run_once(queue) for queue in names)
            total += ran
            if not ran:
                break
        return total

    def _process(self, queue: str, client: Any, message: Any) -> None:
        from azure.functions.queue import QueueMessage

        self.tally.by_queue[queue] = self.tally.by_queue.get(queue, 0) + 1
        if message.dequeue_count > MAX_DEQUEUE_COUNT:
            self._poison(queue, client, message, "its earlier tries never finished")
            return
        try:
            body = base64.b64decode(message.content, validate=True)
        except (binascii.Error, ValueError):
            self._poison(queue, client, message, "its body is not base64")
            return
        trigger = QueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        try:
            self._functions[queue](trigger)
        except HostDied:
            self.tally.died += 1
            return
        except Exception as err:
            self.tally.failed += 1
            if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                self._poison(queue, client, message, f"try {message.dequeue_count} failed: {err!r}")
            else:
                log.info("%s: message %s failed (try %d): %r", queue, message.id, message.dequeue_count, err)
                with contextlib.suppress(Exception):
                    client.update_message(
                        message,
                        pop_receipt=message.pop_receipt,
                        visibility_timeout=int(self._visibility.total_seconds()),
                    )
            return
        self.tally.ran += 1
        with contextlib.suppress(Exception):  # a lost lock: the host ignores a failed delete too
            client.delete_message(message, pop_receipt=message.pop_receipt)

    def _poison(self, queue: str, client: Any, message: Any, why: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        log.warning(
            "Message %s has reached MaxDequeueCount or cannot run (%s). Moving it to '%s-poison'.",
            message.id,
            why,
            queue,
        )
        poison = self._service.get_queue_client(f"{queue}-poison")
        with contextlib.suppress(ResourceExistsError):
            poison.create_queue()
        poison.send_message(message.content)
        client.delete_message(message, pop_receipt=message.pop_receipt)
        self.tally.poisoned += 1

    def poisoned(self, queue: str) -> list[str]:
        """The raw bodies in `<queue>-poison` (peeked, left there)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return [m.content for m in self._service.get_queue_client(f"{queue}-poison").peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []


def main(argv: list[str] | None = None) -> int:
    """`python -m sandbox.queue_host [--queues notifications,scan-workspaces] [--idle-exit 3] [--threads 4]`: one
    host process over function_app's queue functions, configured by the environment (the app settings), as a
    Function App instance; it exits once the queues have been idle for --idle-exit seconds (0: never)."""
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser(prog="python -m sandbox.queue_host", description=main.__doc__)
    parser.add_argument("--queues", default="notifications,scan-workspaces")
    parser.add_argument("--idle-exit", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    host = QueueHost(os.environ["AzureWebJobsStorage"], threads=args.threads)  # noqa: SIM112  (the host's name)
    queues = tuple(args.queues.split(","))
    idle_since = time.monotonic()
    while not args.idle_exit or time.monotonic() - idle_since < args.idle_exit:
        if sum(host.run_once(queue) for queue in queues):
            idle_since = time.monotonic()
        else:
            time.sleep(0.05)  # the host backs off from 100 ms up to maxPollingInterval; a short poll here
    print(json.dumps(vars(host.tally)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
