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
from typing import Any, cast

import httpx

from containers.streams.engine import ContainerInfo, ContainerStream, engine_errors, stream_timeout
from containers.streams.fanout import Control, Subscriber, hub
from containers.streams.frames import LogLine, LogParser, as_bool, engine_since, parse_since, timestamp_ns
from hosts.engine import EngineError, EngineTarget, async_client
from hosts.engine.errors import raise_for_status

# What a viewer joining a running stream is replayed (its `tail` lines, at most this many).
MAX_REPLAY_LINES = 5_000
MAX_REPLAY_BYTES = 4 * 1024 * 1024
MAX_TAIL = 1_000_000


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
        self.ring: deque[LogLine] = deque()
        self.ring_bytes = 0
        self.ring_lines = (
            MAX_REPLAY_LINES if options.tail == "all" else min(int(options.tail), MAX_REPLAY_LINES)
        )
        self.caught_up = False
        self.last_ns = 0
        self.engine_requests = 0  # how many times the engine was asked (tests and benchmarks read it)

    def on_attach(self, subscriber: Any) -> None:
        for line in self.ring:
            subscriber.offer(line, len(line.text))
        if self.caught_up:
            subscriber.control(Control("caught_up", self.container.name))
        super().on_attach(subscriber)

    def _emit(self, lines: list[LogLine], resume_ns: int) -> None:
        ring, limit = self.ring, self.ring_lines
        for line in lines:
            # After a reconnect `since` repeats the last line(s) already sent.
            if resume_ns and line.ts_ns and line.ts_ns <= resume_ns:
                continue
            if line.ts_ns > self.last_ns:
                self.last_ns = line.ts_ns
            size = len(line.text)
            if limit:
                ring.append(line)
                self.ring_bytes += size
                while len(ring) > limit or self.ring_bytes > MAX_REPLAY_BYTES:
                    self.ring_bytes -= len(ring.popleft().text)
            for subscriber in self.subscribers:
                subscriber.offer(line, size)

    async def _read(
        self, client: httpx.AsyncClient, *, follow: bool, tail: str, since: str, resume_ns: int = 0
    ) -> None:
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
        path = f"/containers/{self.container.id}/logs"
        with engine_errors(self.target):
            async with client.stream("GET", path, params=params, timeout=stream_timeout()) as response:
                if not response.is_success:
                    await response.aread()
                    raise_for_status(response, self.target.name)
                async for chunk in response.aiter_raw():
                    self._emit(parser.feed(chunk), resume_ns)
        self._emit(parser.flush(), resume_ns)

    async def run(self) -> None:
        options, name = self.options, self.container.name
        async with async_client(self.target) as client:
            if options.tail != "0" or not options.follow:
                await self._read(client, follow=False, tail=options.tail, since=options.since)
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
                    await self._read(client, follow=True, tail=tail, since=since, resume_ns=resume)
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
