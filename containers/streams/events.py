"""Shared engine event streams: one `/events` request per host and process, with the host's outages
reported in the stream and the events missed during a reconnect replayed (`since`).

Each event goes out with the owner labels hosts.visibility decides it by: a network or volume event's are
looked up on the engine once per stream and object (its Attributes carry only name and type)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from django.conf import settings

from containers.streams.engine import MAX_RETRY_DELAY, POLL_INTERVAL, engine_errors, stream_timeout
from containers.streams.fanout import Control, SharedStream, Subscriber, hub
from containers.streams.frames import engine_since
from hosts.engine import EngineError, EngineTarget, async_client
from hosts.engine.errors import raise_for_status
from hosts.visibility import Labels, Subject, event_lookups, event_owners, inspect_path, labels_in

MAX_CACHED_OWNERS = 10_000


@dataclass(frozen=True)
class EngineEvent:
    """One engine event and the host it came from."""

    host_id: int
    host_name: str
    data: dict[str, Any] = field(hash=False)
    # The owner labels that decide who sees it (hosts.visibility.event_owners).
    owners: tuple[Labels, ...] = field(default=(), hash=False, compare=False)

    @property
    def labels(self) -> dict[str, str]:
        """The attributes of the event's actor: for containers they carry the container's labels."""
        actor = self.data.get("Actor") or {}
        return {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}

    @property
    def type(self) -> str:
        return str(self.data.get("Type") or "")


class EventStream(SharedStream):
    """The event stream of one host."""

    kind = "events"

    def __init__(self, key: Any, target: EngineTarget, host_id: int) -> None:
        super().__init__(key)
        self.target = target
        self.host_id = host_id
        self.up: bool | None = None
        self.last_ns = 0
        self.state: Control | None = None
        self.looked_up: dict[Subject, Labels] = {}  # owner labels, by object

    def on_attach(self, subscriber: Any) -> None:
        if self.state is not None:
            subscriber.control(self.state)

    def _host_state(self, up: bool, message: str) -> None:
        self.up = up
        data = {"state": "up" if up else "down", "message": message, "host_id": self.host_id}
        self.state = Control("host", self.target.name, data)
        self.control(self.state)

    async def _read(self, client: httpx.AsyncClient) -> None:
        params = {"since": engine_since(self.last_ns + 1)} if self.last_ns else None
        with engine_errors(self.target):
            async with client.stream("GET", "/events", params=params, timeout=stream_timeout()) as response:
                if not response.is_success:
                    await response.aread()
                    raise_for_status(response, self.target.name)
                if self.up is not True:
                    self._host_state(True, f"Receiving events from host {self.target.name!r}.")
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    data = json.loads(line)
                    self.last_ns = max(self.last_ns, int(data.get("timeNano") or 0))
                    owners = await self._owners(client, data)
                    self.offer(EngineEvent(self.host_id, self.target.name, data, owners), len(line))

    async def _owners(self, client: httpx.AsyncClient, event: dict[str, Any]) -> tuple[Labels, ...]:
        for subject in event_lookups(event):
            if subject not in self.looked_up:
                if len(self.looked_up) >= MAX_CACHED_OWNERS:
                    self.looked_up.clear()
                timeout = stream_timeout(settings.ENGINE_READ_TIMEOUT)
                response = await client.get(inspect_path(*subject), timeout=timeout)
                # A destroy comes after the object is gone: decided by the labels an earlier event found.
                self.looked_up[subject] = (
                    labels_in(subject[0], response.json()) if response.is_success else None
                )
        return tuple(event_owners(event, self.looked_up))

    async def run(self) -> None:
        delay = POLL_INTERVAL
        async with async_client(self.target) as client:
            while True:
                try:
                    await self._read(client)
                except EngineError as exc:
                    if self.up is not False:
                        self._host_state(False, f"{exc}; reconnecting.")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY)
                    continue
                # The engine ended the stream (shutting down?): reconnect soon; a refusal reports it down.
                delay = POLL_INTERVAL
                await asyncio.sleep(0.1)


def subscribe_events(target: EngineTarget, host_id: int, subscriber: Subscriber) -> EventStream:
    """Attach a viewer to the shared event stream of a host, starting it if needed."""
    key = ("events", target.url, host_id)
    return cast(EventStream, hub().attach(key, lambda: EventStream(key, target, host_id), subscriber))
