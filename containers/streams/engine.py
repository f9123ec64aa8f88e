"""Engine calls shared by the streams: inspect and list containers, error mapping, and following a container
through restarts and host outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from containers.streams.fanout import Control, SharedStream
from hosts.engine import EngineTarget, HostUnreachable, NotFound
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.engine.request import EngineRequest
from hosts.engine.tls import ssl_context

POLL_INTERVAL = 1.0  # while a followed container is stopped (the events API would be the next step)
MAX_RETRY_DELAY = 5.0  # while its host is unreachable


def stream_timeout(read: float | None = None) -> httpx.Timeout:
    """Connect quickly, then wait as long as the stream stays open (`read=None`: logs and events idle)."""
    connect = settings.ENGINE_CONNECT_TIMEOUT
    return httpx.Timeout(connect=connect, read=read, write=connect, pool=connect)


async def open_engine_stream(
    target: EngineTarget, limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """A raw connection to the engine for requests written by hand (hijacks, raw log reads): unix socket,
    TCP, or TLS with the host's in-memory context, never through a proxy; and the Host header to send."""
    address = target.address
    if address.scheme == "unix":
        opening = asyncio.open_unix_connection(address.socket_path, limit=limit)
        host = "docker"
    else:
        tls = ssl_context(target.tls) if target.uses_tls else None
        opening = asyncio.open_connection(address.hostname, address.port, ssl=tls, limit=limit)
        host = f"{address.hostname}:{address.port}"
    reader, writer = await asyncio.wait_for(opening, settings.ENGINE_CONNECT_TIMEOUT)
    return reader, writer, host


def parse_head(raw: bytes) -> tuple[int, str, dict[str, str]]:
    """(status, reason, lower-cased headers) of a response head read by hand."""
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionResetError(f"the engine's answer is not HTTP: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def error_message(body: bytes, reason: str) -> str:
    """The engine's `{"message": ...}` of an error body, else the body or the reason phrase."""
    try:
        data: Any = json.loads(body)
        message = str(data.get("message") or "") if isinstance(data, dict) else ""
    except ValueError:
        message = ""
    return (message or body.decode("utf-8", "replace") or reason).strip()


@contextmanager
def engine_errors(target: EngineTarget) -> Iterator[None]:
    """httpx and OS failures as the EngineError subclasses of hosts.engine (with the host's name)."""
    with translate_errors(
        target.name,
        connect_timeout=settings.ENGINE_CONNECT_TIMEOUT,
        read_timeout=settings.ENGINE_READ_TIMEOUT,
    ):
        yield


@dataclass(frozen=True)
class ContainerInfo:
    """What the streams need to know about a container, from its inspect."""

    id: str
    name: str
    tty: bool
    running: bool
    status: str
    started_at: str
    exit_code: int | None
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_inspect(cls, data: dict[str, Any]) -> ContainerInfo:
        state = data.get("State") or {}
        config = data.get("Config") or {}
        return cls(
            id=data["Id"],
            name=str(data.get("Name") or data["Id"][:12]).lstrip("/"),
            tty=bool(config.get("Tty")),
            running=bool(state.get("Running")) and not state.get("Paused"),
            status=str(state.get("Status") or ""),
            started_at=str(state.get("StartedAt") or ""),
            exit_code=state.get("ExitCode"),
            labels=dict(config.get("Labels") or {}),
        )


async def get_json(client: httpx.AsyncClient, target: EngineTarget, request: EngineRequest) -> Any:
    """Send `request` (a GET) and answer its JSON document; errors as EngineError (404 as NotFound)."""
    with engine_errors(target):
        response = await client.request(request.method, request.target())
        raise_for_status(response, target.name)
        return response.json()


async def inspect_container(client: httpx.AsyncClient, target: EngineTarget, ref: str) -> ContainerInfo:
    """The container `ref` names (checked against the grammar: BadReference), as the engine describes it."""
    request = EngineRequest.build("GET", "/containers/{container}/json", ref)
    return ContainerInfo.from_inspect(await get_json(client, target, request))


async def list_containers(
    client: httpx.AsyncClient, target: EngineTarget, *, running_only: bool = False, **filters: list[str]
) -> list[dict[str, Any]]:
    """`/containers/json` with engine-side filters (`label=["k=v"]`)."""
    params: dict[str, Any] = {"all": 0 if running_only else 1}
    if filters:
        params["filters"] = json.dumps(filters)
    request = EngineRequest.build("GET", "/containers/json", query=params)
    result: list[dict[str, Any]] = await get_json(client, target, request)
    return result


class ContainerStream(SharedStream):
    """A shared stream about one container that follows it through restarts and host outages."""

    def __init__(self, key: Hashable, target: EngineTarget, container: ContainerInfo) -> None:
        super().__init__(key)
        self.target = target
        self.container = container
        self.status: Control | None = None  # the last status reported, for viewers who join later

    @property
    def source(self) -> str:
        return self.container.name

    def report(self, state: str, message: str, **extra: Any) -> None:
        self.status = Control("status", self.container.name, {"state": state, "message": message, **extra})
        self.control(self.status)

    def on_attach(self, subscriber: Any) -> None:
        if self.status is not None and self.status.data.get("state") not in ("running", "restarted"):
            subscriber.control(self.status)

    async def wait_until_running(self, client: httpx.AsyncClient) -> ContainerInfo | None:
        """After the engine ended a stream: report why, and return once the container runs (None: removed)."""
        name, host = self.container.name, self.target.name
        delay = POLL_INTERVAL
        reported: str | None = None
        while True:
            try:
                info = await inspect_container(client, self.target, self.container.id)
            except NotFound:
                self.report("removed", f"Container {name!r} was removed from host {host!r}.")
                return None
            except HostUnreachable as exc:
                if reported != "host_unreachable":
                    self.report("host_unreachable", f"{exc}; reconnecting.")
                    reported = "host_unreachable"
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
                continue
            delay = POLL_INTERVAL
            restarted = info.started_at != self.container.started_at
            if info.running:
                self.container = info
                if reported is not None:
                    self.report("running", f"Container {name!r} is running again.")
                elif restarted:
                    self.report("restarted", f"Container {name!r} restarted.")
                return info
            if reported != info.status:
                code = f" with code {info.exit_code}" if info.status == "exited" else ""
                self.report(
                    info.status, f"Container {name!r} is {info.status}{code}.", exit_code=info.exit_code
                )
                reported = info.status
            await asyncio.sleep(POLL_INTERVAL)
