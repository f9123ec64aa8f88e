"""Engine events: `ws/events/?hosts=1,2` (default: every host the caller may see).

Server → client: `ready` (the hosts), `event` (`host` and the engine's event as it sent it), `host`
(`state` up/down: the connection to that engine), `skipped` (events dropped for a viewer that fell behind).
Which events a caller sees is hosts.visibility.event_visible's decision, the gateway's /events rule too:
below admin, the events of their containers, networks and volumes, and image events.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async

from containers.consumers.base import EngineConsumer, host_for
from containers.streams import Control, EngineEvent, Subscriber, hub, subscribe_events
from containers.streams.fanout import Hub, SharedStream
from hosts.access import Action, Caller
from hosts.engine import EngineTarget
from hosts.live import CloseCode, Reject
from hosts.models import Host
from hosts.visibility import Scope, visible_hosts

BATCH_INTERVAL = 0.05


def _visible_hosts(who: Caller, wanted: list[int] | None) -> list[Host]:
    hosts = visible_hosts(who)
    if wanted is None:
        return list(hosts)
    found = {host.pk: host for host in hosts.filter(pk__in=wanted)}
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        raise Reject(CloseCode.NOT_FOUND, f"No host {', '.join(missing)} is visible to you.")
    return [found[pk] for pk in wanted]


def _visible_events(who: Caller, hosts: dict[int, Host], events: list[EngineEvent]) -> list[bool]:
    """Which events the caller may see (hosts.visibility, as the gateway's /events): one scope per host."""
    scopes: dict[int, Scope] = {}
    result = []
    for event in events:
        if event.host_id not in scopes:
            scopes[event.host_id] = Scope.of(who, hosts[event.host_id])
        result.append(scopes[event.host_id].sees_event(event.data, event.owners))
    return result


class EventsConsumer(EngineConsumer):
    """Live engine events of several hosts."""

    async def start(self) -> None:
        raw = self.param("hosts")
        wanted: list[int] | None = None
        if raw:
            try:
                wanted = list(dict.fromkeys(int(part) for part in raw.split(",") if part.strip()))
            except ValueError:
                raise Reject(
                    CloseCode.BAD_REQUEST, f"hosts={raw!r}: give host ids, e.g. hosts=1,2."
                ) from None
        hosts = await database_sync_to_async(_visible_hosts)(self.who, wanted)
        self.hosts = {host.pk: host for host in hosts}
        self.hub: Hub = hub()
        self.subscriber = Subscriber()
        await self.send_json({"type": "ready", "hosts": [{"id": h.pk, "name": h.name} for h in hosts]})
        self.streams: list[SharedStream] = [
            subscribe_events(EngineTarget.of(host), host.pk, self.subscriber) for host in hosts
        ]
        self.spawn(self.pump(), name="events pump")

    def _host(self, host_id: int) -> dict[str, Any]:
        host = self.hosts[host_id]
        return {"id": host.pk, "name": host.name}

    async def pump(self) -> None:
        subscriber = self.subscriber
        while True:
            await subscriber.ready.wait()
            await asyncio.sleep(BATCH_INTERVAL)  # one access check round per batch, not per event
            items, skipped = subscriber.take()
            events = [item for item in items if isinstance(item, EngineEvent)]
            allowed = iter(await database_sync_to_async(_visible_events)(self.who, self.hosts, events))
            for item in items:
                if isinstance(item, EngineEvent):
                    if next(allowed):
                        await self.send_json(
                            {"type": "event", "host": self._host(item.host_id), "event": item.data}
                        )
                elif isinstance(item, Control) and item.kind == "host":
                    host_id = int(item.data["host_id"])
                    data = {k: v for k, v in item.data.items() if k != "host_id"}
                    await self.send_json({"type": "host", "host": self._host(host_id), **data})
            if skipped:
                await self.send_json({"type": "skipped", "count": skipped})

    def still_allowed(self, who: Caller) -> None:
        """Every host of the stream is still visible (its events are filtered with the fresh caller)."""
        for host_id in getattr(self, "hosts", {}):
            host_for(who, host_id, Action.VIEW)

    async def cleanup(self) -> None:
        streams, self.streams = getattr(self, "streams", []), []
        for stream in streams:
            await self.hub.detach(stream, self.subscriber)
