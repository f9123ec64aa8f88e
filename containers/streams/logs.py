"""Shared log streams: one engine `logs` request per container and options, followed through restarts.

The history (`tail`/`since`) is read first without `follow`, so viewers learn where it ends (merged views
need that to order lines of several containers); then the stream follows from the last timestamp seen,
and again after every restart or host outage, skipping lines it already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

from containers.streams.engine import ContainerInfo, ContainerStream, engine_errors
from containers.streams.fanout import Control, Subscriber, hub
from containers.streams.frames import LogLine, LogParser, as_bool, engine_since, parse_since, timestamp_ns
from containers.streams.raw import raw_get
from hosts.engine import EngineError, EngineTarget, async_client
from hosts.engine.request import EngineRequest

# What a viewer joining a running stream is replayed (its `tail` lines, at most this many).
MAX_REPLAY_LINES = 5_000
MAX_REPLAY_BYTES = 4 * 1024 * 1024
MAX_TAIL = 1_000_000
# The engine's answer is parsed this much at a time (~400 lines, well under a millisecond). Between pieces the
# event loop gets a turn: other viewers and streams are served, and the engine's next writes are taken off
# the socket rather than left to fill it (the engine then waits).
LOG_READ_SIZE = 16 * 1024
_TS_NS = attrgetter("ts_ns")
_TEXT = attrgetter("text")


@dataclass(frozen=True)
class LogOptions:
    """The engine-side options; viewers with equal options share one engine stream."""

    tail: str = "100"  # a number of lines or "all"
    since: str = ""  # as the engine takes it: unix seconds with nanoseconds
    follow: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LogOptions:
        """Options from query parameters; ValueError with a message for the user."""
        tail = str(params.get("tail") or "100").strip().lower()
        if tail != "all" and not (tail.isdigit() and int(tail) <= MAX_TAIL):
            raise ValueError(f"tail={tail!r}: use a number of lines up to {MAX_TAIL} or 'all'.")
        since = parse_since(str(params.get("since") or ""), time.time())
        return cls(
            tail=str(int(tail)) if tail != "all" else tail,
            since=since,
            follow=as_bool(params.get("follow"), True),
        )


class LogStream(ContainerStream):
    """The log stream of one container, shared by every viewer asking for the same options."""

    kind = "logs"

    def __init__(self, key: Any, target: EngineTarget, container: ContainerInfo, options: LogOptions) -> None:
        super().__init__(key, target, container)
        self.options = options
        # What a viewer who joins is replayed: the newest lines, kept as the reads brought them (lines, sizes,
        # bytes), and cut to the `tail` and MAX_REPLAY_BYTES when someone joins.
        self.ring: deque[tuple[list[LogLine], list[int], int]] = deque()
        self.ring_count = 0
        self.ring_bytes = 0
        self.ring_lines = (
            MAX_REPLAY_LINES if options.tail == "all" else min(int(options.tail), MAX_REPLAY_LINES)
        )
        self.caught_up = False
        self.last_ns = 0
        self.engine_requests = 0  # how many times the engine was asked (tests and benchmarks read it)

    def replay(self) -> tuple[list[LogLine], list[int]]:
        """The newest `ring_lines` lines (and their sizes), fewer if they hold more than MAX_REPLAY_BYTES."""
        limit = self.ring_lines
        lines = [line for batch in self.ring for line in batch[0]][-limit:]
        sizes = [size for batch in self.ring for size in batch[1]][-limit:]
        total, start = sum(sizes), 0
        while start < len(sizes) and total > MAX_REPLAY_BYTES:
            total -= sizes[start]
            start += 1
        return lines[start:], sizes[start:]

    def on_attach(self, subscriber: Any) -> None:
        if self.ring:
            subscriber.offer_many(*self.replay())
        if self.caught_up:
            subscriber.control(Control("caught_up", self.container.name))
        super().on_attach(subscriber)

    def _remember(self, lines: list[LogLine], sizes: list[int]) -> None:
        """Keep a read's lines for replay; drop the oldest reads that no replay can reach any more."""
        limit = self.ring_lines
        if not limit:
            return
        if len(lines) > limit:
            lines, sizes = lines[-limit:], sizes[-limit:]
        ring = self.ring
        total = sum(sizes)
        ring.append((lines, sizes, total))
        self.ring_count += len(lines)
        self.ring_bytes += total
        while len(ring) > 1:
            oldest, _, oldest_bytes = ring[0]
            # The oldest read is out of reach when the newer ones hold the tail, or more bytes than a replay.
            if self.ring_count - len(oldest) < limit and self.ring_bytes - oldest_bytes <= MAX_REPLAY_BYTES:
                break
            ring.popleft()
            self.ring_count -= len(oldest)
            self.ring_bytes -= oldest_bytes

    def _emit(self, lines: list[LogLine], resume_ns: int) -> None:
        """Offer what one read brought to every viewer, and keep the newest lines for viewers who join."""
        if resume_ns:  # after a reconnect `since` repeats the last line(s) already sent
            lines = [line for line in lines if not line.ts_ns or line.ts_ns > resume_ns]
        if not lines:
            return
        newest = max(map(_TS_NS, lines))
        if newest > self.last_ns:
            self.last_ns = newest
        sizes = list(map(len, map(_TEXT, lines)))
        self._remember(lines, sizes)
        for subscriber in tuple(self.subscribers):
            subscriber.offer_many(lines, sizes)

    async def _read(self, *, follow: bool, tail: str, since: str, resume_ns: int = 0) -> None:
        params: dict[str, Any] = {
            "stdout": 1,
            "stderr": 1,
            "timestamps": 1,
            "follow": int(follow),
            "tail": tail,
        }
        if since:
            params["since"] = since
        parser = LogParser(self.container.name, self.container.tty)
        self.engine_requests += 1
        # Read raw (raw_get): the engine flushes every entry on its own, too many pieces for httpx.
        request = EngineRequest.build("GET", "/containers/{container}/logs", self.container.id, query=params)
        async with raw_get(self.target, request) as response:
            with engine_errors(self.target):
                async for chunk in response.iter_bytes(LOG_READ_SIZE):
                    self._emit(parser.feed(chunk), resume_ns)
                    if len(chunk) == LOG_READ_SIZE:  # more is waiting: first let everyone else have a turn
                        await asyncio.sleep(0)
        self._emit(parser.flush(), resume_ns)

    async def run(self) -> None:
        options, name = self.options, self.container.name
        async with async_client(self.target) as client:
            if options.tail != "0" or not options.follow:
                await self._read(follow=False, tail=options.tail, since=options.since)
            self.caught_up = True
            self.control(Control("caught_up", name))
            if not options.follow:
                self.control(Control("end", name))
                return
            first = True
            while True:
                if self.last_ns:
                    since, tail, resume = engine_since(self.last_ns), "all", self.last_ns
                elif first:  # an empty history: everything logged from now on is new
                    since, tail, resume = options.since, "0" if options.tail == "0" else "all", 0
                else:  # nothing logged before a restart: take the new run from its start
                    since, tail, resume = engine_since(timestamp_ns(self.container.started_at)), "all", 0
                first = False
                started = time.monotonic()
                # wait_until_running says what happened (host down, container gone).
                with contextlib.suppress(EngineError):
                    await self._read(follow=True, tail=tail, since=since, resume_ns=resume)
                if await self.wait_until_running(client) is None:
                    break
                if time.monotonic() - started < 0.2:  # an engine that keeps closing the stream at once
                    await asyncio.sleep(0.2)
        self.control(Control("end", name))


def subscribe_logs(
    target: EngineTarget, container: ContainerInfo, options: LogOptions, subscriber: Subscriber
) -> LogStream:
    """Attach a viewer to the shared log stream of `container` with `options`, starting it if needed."""
    key = ("logs", target.url, container.id, options)
    stream = hub().attach(key, lambda: LogStream(key, target, container, options), subscriber)
    return cast(LogStream, stream)
