"""Fan-out: one engine stream per key and process, shared by every viewer, each with a bounded queue.

A `SharedStream` reads from an engine once and offers every item to its subscribers without waiting on
any of them; a `Subscriber` queues what its viewer has not sent yet, up to a bound, and counts what it had
to drop, so a slow viewer never slows the others and memory never grows with the backlog. The `Hub`
reference-counts streams by key and stops a stream when its last viewer leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

# Per viewer: what may wait to be sent before lines are dropped (tests lower them).
VIEWER_MAX_ITEMS = 20_000
VIEWER_MAX_BYTES = 4 * 1024 * 1024
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class Control:
    """A message that is never dropped: a status change, the end of a history, the end of a stream."""

    kind: str  # "status", "caught_up", "end", "host"
    source: str  # the container (or host) it is about
    data: dict[str, Any] = field(default_factory=dict)


class Subscriber:
    """One viewer's bounded queue; `accepts` (the viewer's filter) runs before anything is queued."""

    def __init__(
        self,
        *,
        max_items: int | None = None,
        max_bytes: int | None = None,
        accepts: Callable[[Any], bool] | None = None,
        batch_items: int = 0,
    ) -> None:
        self.max_items = VIEWER_MAX_ITEMS if max_items is None else max_items
        self.max_bytes = VIEWER_MAX_BYTES if max_bytes is None else max_bytes
        self.accepts = accepts
        self.items: deque[Any] = deque()
        self.count = 0  # droppable items queued
        self.bytes = 0
        self.skipped = 0
        self.ready = asyncio.Event()  # something to take
        self.full = asyncio.Event()  # a whole batch waits: no reason to wait for more
        self._batch_items = batch_items

    def offer(self, item: Any, size: int = 0) -> None:
        """Queue an item that may be dropped when the viewer is behind (a line, an event, a stats frame)."""
        if self.accepts is not None and not self.accepts(item):
            return
        self._offer_accepted(item, size)

    def _offer_accepted(self, item: Any, size: int) -> None:
        if self.count >= self.max_items or self.bytes + size > self.max_bytes:
            self.skipped += 1
            self.ready.set()
            return
        self.items.append(item)
        self.count += 1
        self.bytes += size
        self.ready.set()
        if self._batch_items and self.count >= self._batch_items:
            self.full.set()

    def offer_many(self, items: list[Any], sizes: list[int]) -> None:
        """`offer` each item (with its size), in one step when they all fit: a log read brings thousands."""
        accepts = self.accepts
        if accepts is not None:
            kept = [index for index, item in enumerate(items) if accepts(item)]
            if len(kept) < len(items):
                items = [items[index] for index in kept]
                sizes = [sizes[index] for index in kept]
        if not items:
            return
        total = sum(sizes)
        if self.count + len(items) > self.max_items or self.bytes + total > self.max_bytes:
            offer = self._offer_accepted
            for item, size in zip(items, sizes, strict=True):
                offer(item, size)
            return
        self.items.extend(items)
        self.count += len(items)
        self.bytes += total
        self.ready.set()
        if self._batch_items and self.count >= self._batch_items:
            self.full.set()

    def control(self, item: Control) -> None:
        """Queue a control message; never dropped (they are rare and small)."""
        self.items.append(item)
        self.ready.set()
        self.full.set()

    def take(self) -> tuple[list[Any], int]:
        """Everything queued, in order, and how many items were dropped after them."""
        items = list(self.items)
        skipped = self.skipped
        self.items.clear()
        self.count = self.bytes = self.skipped = 0
        self.ready.clear()
        self.full.clear()
        return items, skipped


class SharedStream:
    """An engine stream that several subscribers share; subclasses implement `run` and `on_attach`."""

    kind: ClassVar[str] = "stream"

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task[None] | None = None
        self.finished = False
        self.hub: Hub | None = None

    @property
    def source(self) -> str:
        """What viewers call this stream's origin (a container name) in the messages they get."""
        return ""

    async def run(self) -> None:
        raise NotImplementedError

    def on_attach(self, subscriber: Subscriber) -> None:
        """Bring a subscriber that joins late up to date (replay, current status)."""

    def offer(self, item: Any, size: int = 0) -> None:
        for subscriber in tuple(self.subscribers):
            subscriber.offer(item, size)

    def control(self, item: Control) -> None:
        for subscriber in tuple(self.subscribers):
            subscriber.control(item)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._guarded(), name=f"{self.kind} {self.key}")

    async def _guarded(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected engine answer must reach the viewers, not vanish
            logger.exception("%s %s failed", self.kind, self.key)
            self.control(Control("end", self.source, {"error": f"The stream failed: {exc}"}))
        finally:
            self.finished = True
            if self.hub is not None:
                self.hub.forget(self)

    async def stop(self) -> None:
        task = self.task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(task, STOP_TIMEOUT)


class Hub:
    """The shared streams of one event loop (one per process in production), by key."""

    def __init__(self) -> None:
        self.streams: dict[Hashable, SharedStream] = {}

    def attach(
        self, key: Hashable, factory: Callable[[], SharedStream], subscriber: Subscriber
    ) -> SharedStream:
        """Subscribe to the stream for `key`, starting it if nobody watches it yet."""
        stream = self.streams.get(key)
        if stream is None or stream.finished:
            stream = factory()
            stream.hub = self
            self.streams[key] = stream
            stream.start()
        stream.subscribers.add(subscriber)
        stream.on_attach(subscriber)
        return stream

    async def detach(self, stream: SharedStream, subscriber: Subscriber) -> None:
        """Unsubscribe; the last subscriber out stops the engine stream."""
        stream.subscribers.discard(subscriber)
        if stream.subscribers:
            return
        self.forget(stream)
        await stream.stop()

    def forget(self, stream: SharedStream) -> None:
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]

    def count(self, kind: str | None = None) -> int:
        """How many engine streams are open (of one kind)."""
        return sum(1 for s in self.streams.values() if kind is None or s.kind == kind)

    def find(self, kind: str) -> list[SharedStream]:
        return [s for s in self.streams.values() if s.kind == kind]


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The hub of the running event loop: streams and their tasks belong to one loop."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub()
    return found
