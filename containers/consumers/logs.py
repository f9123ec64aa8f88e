"""Log viewers: one container, or several merged in time order (by ids, label or compose project).

Server → client: `ready`, `lines` (batches), `status` (restarts, host outages), `skipped` (lines dropped
for a viewer that fell behind or stayed paused), `end` (history without follow, or containers removed),
acks `paused`/`resumed`/`filter`, and `error`. Client → server: `pause`, `resume`, `filter`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from channels.db import database_sync_to_async

from containers.consumers.base import EngineConsumer
from containers.streams import (
    ContainerInfo,
    Control,
    LineFilter,
    LogLine,
    LogOptions,
    Subscriber,
    as_bool,
    hub,
    inspect_container,
    list_containers,
    subscribe_logs,
)
from containers.streams.fanout import Hub, SharedStream
from containers.streams.merge import Merger
from hosts import visibility
from hosts.access import Action, Caller
from hosts.engine import NotFound, async_client
from hosts.live import CloseCode, Reject

BATCH_INTERVAL = 0.05  # a batch goes out this long after its first line ...
BATCH_LINES = 500  # ... or as soon as it has this many lines
REORDER_HOLD = 0.15  # merged live lines wait this long for a slightly late line of another container
MAX_MERGED = 50
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


class LogsConsumer(EngineConsumer):
    """`ws/hosts/<host_id>/containers/<container>/logs/`: the logs of one container."""

    client_messages: ClassVar[frozenset[str]] = frozenset({"pause", "resume", "filter"})

    async def start(self) -> None:
        params = self.params()
        options = LogOptions.from_params(params)
        self.filter = LineFilter.from_params(params)
        self.with_ts = as_bool(params.get("timestamps"), True)
        await self.resolve_host(Action.VIEW)
        async with async_client(self.target) as client:
            containers = await self.containers(client)
        self.followed = containers
        self.hub: Hub = hub()
        self.subscriber = Subscriber(accepts=self._accepts(), batch_items=BATCH_LINES)
        self.merger = Merger([c.name for c in containers], REORDER_HOLD if len(containers) > 1 else 0.0)
        self.resumed = asyncio.Event()
        self.resumed.set()
        await self.send_json(
            {
                "type": "ready",
                "host": {"id": self.host.pk, "name": self.host.name},
                "containers": [
                    {"id": c.id, "name": c.name, "tty": c.tty, "status": c.status} for c in containers
                ],
                "options": {"tail": options.tail, "since": options.since, "follow": options.follow},
                "filter": self.filter.describe(),
            }
        )
        self.streams: list[SharedStream] = [
            subscribe_logs(self.target, c, options, self.subscriber) for c in containers
        ]
        self.spawn(self.pump(), name=f"logs pump {self.scope.get('path')}")

    async def containers(self, client: Any) -> list[ContainerInfo]:
        ref = str(self.scope["url_route"]["kwargs"]["container"])
        return [await self.resolve_container(client, ref)]

    def _accepts(self) -> Callable[[Any], bool] | None:
        """What the viewer's queue lets in: everything (no call per line) unless a filter is set."""
        line_filter = self.filter
        if line_filter.passes_all:
            return None
        return lambda item: not isinstance(item, LogLine) or line_filter.accepts(item)

    async def cleanup(self) -> None:
        streams, self.streams = getattr(self, "streams", []), []
        for stream in streams:
            await self.hub.detach(stream, self.subscriber)

    def still_allowed(self, who: Caller) -> None:
        super().still_allowed(who)
        for container in getattr(self, "followed", ()):
            if not visibility.can_see_object(who, self.host, container.labels):
                raise Reject(
                    CloseCode.NOT_FOUND, f"Container {container.name!r} is no longer visible to you."
                )

    # Client messages

    async def on_pause(self, content: dict[str, Any]) -> None:
        # Lines keep queueing (bounded); what overflows is counted and reported on resume.
        self.resumed.clear()
        await self.send_json({"type": "paused"})

    async def on_resume(self, content: dict[str, Any]) -> None:
        self.resumed.set()
        await self.send_json({"type": "resumed"})

    async def on_filter(self, content: dict[str, Any]) -> None:
        self.filter = LineFilter.from_params(content)
        self.subscriber.accepts = self._accepts()
        await self.send_json({"type": "filter", **self.filter.describe()})

    # Delivery

    async def pump(self) -> None:
        """Send what the shared streams queued: batched, in order, with skip markers; never blocks them."""
        loop = asyncio.get_running_loop()
        subscriber, merger = self.subscriber, self.merger
        while True:
            await self.resumed.wait()
            due = merger.next_due(loop.time())
            if not subscriber.ready.is_set():
                timeout = None if due is None else max(0.0, due - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscriber.ready.wait(), timeout)
            if subscriber.ready.is_set() and not subscriber.full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscriber.full.wait(), BATCH_INTERVAL)
            if not self.resumed.is_set():
                continue
            items, skipped = subscriber.take()
            if await self.deliver(items, skipped, loop.time()):
                await self.finish()
                return

    async def deliver(self, items: list[Any], skipped: int, now: float) -> bool:
        """Send one round; True when every stream has ended."""
        merger = self.merger
        start = 0
        for index, item in enumerate(items):
            if isinstance(item, LogLine):
                continue
            # Lines go to the merger a run at a time (a read of history brings thousands).
            merger.add_many(items[start:index], now)
            start = index + 1
            assert isinstance(item, Control)
            if item.kind == "caught_up":
                merger.caught_up(item.source)
            elif item.kind == "status":
                await self.send_lines(merger.release(now, everything=True))
                await self.send_json({"type": "status", "container": item.source, **item.data})
            elif item.kind == "end":
                merger.ended(item.source)
                if item.data.get("error"):
                    await self.send_error(item.data["error"])
        merger.add_many(items[start:], now)
        await self.send_lines(merger.release(now, everything=merger.finished))
        if skipped:
            await self.send_json({"type": "skipped", "count": skipped})
        if merger.finished:
            await self.send_json({"type": "end"})
            return True
        return False

    async def send_lines(self, lines: list[LogLine]) -> None:
        with_ts = self.with_ts
        for start in range(0, len(lines), BATCH_LINES):
            chunk = lines[start : start + BATCH_LINES]
            # Each line's JSON is made once by the shared stream; a batch is a join, not a dump per viewer.
            if with_ts:
                body = ",".join(map(LogLine.as_json, chunk))
            else:
                body = ",".join(line.as_json(False) for line in chunk)
            await self.send(text_data='{"type":"lines","lines":[' + body + "]}")


class MergedLogsConsumer(LogsConsumer):
    """`ws/hosts/<host_id>/logs/?containers=a,b | label=k=v | project=name`: several containers merged."""

    async def containers(self, client: Any) -> list[ContainerInfo]:
        names = [n for n in self.param("containers").split(",") if n.strip()]
        label, project = self.param("label"), self.param("project")
        if sum(map(bool, (names, label, project))) != 1:
            raise Reject(
                CloseCode.BAD_REQUEST, "Give exactly one of containers=a,b, label=key=value or project=name."
            )
        if names:
            found = []
            for name in names[: MAX_MERGED + 1]:
                try:
                    found.append(await inspect_container(client, self.target, name.strip()))
                except NotFound:
                    raise Reject(
                        CloseCode.NOT_FOUND, f"No container {name!r} on host {self.host.name!r}."
                    ) from None
            what = f"containers {', '.join(names)}"
        else:
            selector = label or f"{COMPOSE_PROJECT_LABEL}={project}"
            listed = await list_containers(client, self.target, label=[selector])
            found = [await inspect_container(client, self.target, c["Id"]) for c in listed[: MAX_MERGED + 1]]
            what = f"label {label}" if label else f"compose project {project!r}"
        found = list({c.id: c for c in found}.values())  # a container named twice is followed once
        if len(found) > MAX_MERGED:
            raise Reject(
                CloseCode.BAD_REQUEST, f"More than {MAX_MERGED} containers match; narrow the selection."
            )
        visible = await database_sync_to_async(
            lambda: [visibility.can_see_object(self.who, self.host, c.labels) for c in found]
        )()
        if names and not all(visible):
            hidden = next(c.name for c, ok in zip(found, visible, strict=True) if not ok)
            raise Reject(CloseCode.NOT_FOUND, f"No container {hidden!r} on host {self.host.name!r}.")
        containers = [c for c, ok in zip(found, visible, strict=True) if ok]
        if not containers:
            raise Reject(
                CloseCode.NOT_FOUND, f"No containers visible to you match {what} on host {self.host.name!r}."
            )
        return containers
