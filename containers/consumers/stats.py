"""Stats: one container (`ws/hosts/<host_id>/containers/<container>/stats/`) or the host's running
containers added up (`ws/hosts/<host_id>/stats/`), one message a second, from shared engine streams."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async

from containers.consumers.base import EngineConsumer
from containers.streams import (
    STATS_FIELDS,
    ContainerInfo,
    Control,
    Subscriber,
    hub,
    inspect_container,
    list_containers,
    subscribe_stats,
)
from containers.streams.fanout import Hub, SharedStream
from hosts import visibility
from hosts.access import Action, Caller
from hosts.engine import EngineError, NotFound, async_client
from hosts.live import CloseCode, Reject

HOST_REFRESH = 5.0  # how often host totals look for started and stopped containers
HOST_INTERVAL = 1.0
SUMMED = ("cpu_percent", "mem_usage", "net_rx", "net_tx", "blk_read", "blk_write", "pids")
RATES = ("net_rx_rate", "net_tx_rate", "blk_read_rate", "blk_write_rate")


class StatsConsumer(EngineConsumer):
    """Stats of one container: `{"type": "stats", ...}` once a second, `status` when it stops or restarts."""

    async def start(self) -> None:
        await self.resolve_host(Action.VIEW)
        async with async_client(self.target) as client:
            container = await self.resolve_container(
                client, str(self.scope["url_route"]["kwargs"]["container"])
            )
        self.container = container
        self.hub: Hub = hub()
        # A frame a second: a viewer more than a few behind only needs the newest.
        self.subscriber = Subscriber(max_items=5)
        await self.send_json({"type": "ready", "container": {"id": container.id, "name": container.name}})
        self.stream: SharedStream | None = subscribe_stats(self.target, container, self.subscriber)
        self.spawn(self.pump(), name=f"stats {container.name}")

    async def pump(self) -> None:
        while True:
            await self.subscriber.ready.wait()
            items, _skipped = self.subscriber.take()
            for item in items:
                if isinstance(item, dict):
                    await self.send_json({"type": "stats", **item})
                elif isinstance(item, Control) and item.kind == "status":
                    await self.send_json({"type": "status", "container": item.source, **item.data})
                elif isinstance(item, Control) and item.kind == "end":
                    await self.send_json({"type": "end"})
                    await self.finish()
                    return

    async def cleanup(self) -> None:
        stream, self.stream = getattr(self, "stream", None), None
        if stream is not None:
            await self.hub.detach(stream, self.subscriber)

    def still_allowed(self, who: Caller) -> None:
        super().still_allowed(who)
        container = getattr(self, "container", None)
        if container is not None and not visibility.can_see_object(who, self.host, container.labels):
            raise Reject(CloseCode.NOT_FOUND, f"Container {container.name!r} is no longer visible to you.")


class HostStatsConsumer(EngineConsumer):
    """Totals over the running containers of a host that the caller may see."""

    async def start(self) -> None:
        await self.resolve_host(Action.VIEW)
        self.hub = hub()
        self.subscriber = Subscriber(max_items=1000)
        self.streams: dict[str, SharedStream] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        self.client = async_client(self.target)
        await self.refresh()  # an unreachable host fails the connect with 4502
        await self.send_json({"type": "ready", "host": {"id": self.host.pk, "name": self.host.name}})
        self.spawn(self.follow_containers(), name=f"host stats refresh {self.host.name}")
        self.spawn(self.pump(), name=f"host stats {self.host.name}")

    async def refresh(self) -> None:
        """Follow the stats of running containers that appeared; let go of those that are gone."""
        listed = await list_containers(self.client, self.target, running_only=True)
        containers: list[ContainerInfo] = []
        for entry in listed:
            if entry["Id"] in self.streams:
                continue
            with contextlib.suppress(NotFound):
                containers.append(await inspect_container(self.client, self.target, entry["Id"]))
        visible = await database_sync_to_async(
            lambda: [visibility.can_see_object(self.who, self.host, c.labels) for c in containers]
        )()
        for container, ok in zip(containers, visible, strict=True):
            if ok:
                self.streams[container.id] = subscribe_stats(self.target, container, self.subscriber)
        running = {entry["Id"] for entry in listed}
        for container_id in [c for c in self.streams if c not in running]:
            stream = self.streams.pop(container_id)
            await self.hub.detach(stream, self.subscriber)

    async def follow_containers(self) -> None:
        while True:
            await asyncio.sleep(HOST_REFRESH)
            with contextlib.suppress(EngineError):  # an outage shows as zero containers until it ends
                await self.refresh()

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(HOST_INTERVAL)
            items, _skipped = self.subscriber.take()
            for item in items:
                if isinstance(item, dict):
                    self.latest[item["container"]] = item
                elif isinstance(item, Control) and item.data.get("state") not in ("running", "restarted"):
                    self.latest.pop(item.source, None)
            names = {stream.container.name for stream in self.streams.values()}  # type: ignore[attr-defined]
            frames = [frame for name, frame in self.latest.items() if name in names]
            totals: dict[str, Any] = {key: sum(frame[key] for frame in frames) for key in (*SUMMED, *RATES)}
            totals["cpu_percent"] = round(totals["cpu_percent"], 3)
            mem_total = self.host.mem_total
            await self.send_json(
                {
                    "type": "host_stats",
                    "host": {"id": self.host.pk, "name": self.host.name},
                    "containers": len(frames),
                    **totals,
                    "mem_total": mem_total,
                    "mem_percent": round(totals["mem_usage"] / mem_total * 100, 3) if mem_total else None,
                    "ts": datetime.now(UTC).isoformat(),
                }
            )

    async def cleanup(self) -> None:
        streams, self.streams = getattr(self, "streams", {}), {}
        for stream in streams.values():
            await self.hub.detach(stream, self.subscriber)
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()


assert set(SUMMED) <= set(STATS_FIELDS)
