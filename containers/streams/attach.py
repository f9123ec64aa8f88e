"""Attach sessions: the container's main process on a hijacked connection (containers.streams.hijack), its
terminal size, starting it, and its exit code.

The order is the docker CLI's for `docker run -it` / `docker start -ai`: attach, register a wait for the next
exit, then start, so no early output and no exit is lost (even with AutoRemove).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

from containers.streams.engine import engine_errors, get_json, stream_timeout
from containers.streams.hijack import HijackedConnection
from hosts.engine import EngineError, EngineTarget
from hosts.engine.errors import raise_for_status
from hosts.engine.request import EngineRequest

ATTACH_QUERY = {"stream": "1", "stdin": "1", "stdout": "1", "stderr": "1"}


@dataclass(frozen=True)
class StdinConfig:
    """How the container's stdin works, which an attach session needs beyond ContainerInfo."""

    open_stdin: bool  # created with -i: input reaches the process
    stdin_once: bool  # the process's stdin closes when the (first) attached client ends its input

    @classmethod
    async def inspect(cls, client: httpx.AsyncClient, target: EngineTarget, container_id: str) -> StdinConfig:
        inspect = EngineRequest.build("GET", "/containers/{container}/json", container_id)
        data: dict[str, Any] = await get_json(client, target, inspect)
        config = data.get("Config") or {}
        return cls(open_stdin=bool(config.get("OpenStdin")), stdin_once=bool(config.get("StdinOnce")))


class AttachConnection(HijackedConnection):
    """An attached main process: stdin going out, stdout/stderr coming in, until the process ends."""

    @classmethod
    async def attach(cls, target: EngineTarget, request: EngineRequest, tty: bool) -> AttachConnection:
        """The admitted `attach_request` sent with `Upgrade: tcp`."""
        return await cls.open(target, request, tty=tty)

    async def detach(self) -> None:
        """End the session from our side; the process goes on (nothing is sent to it)."""
        await self.close()


def attach_request(container_id: str) -> EngineRequest:
    """`POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1`, to be admitted, then sent."""
    return EngineRequest.build("POST", "/containers/{container}/attach", container_id, query=ATTACH_QUERY)


async def start_container(client: httpx.AsyncClient, target: EngineTarget, request: EngineRequest) -> bool:
    """Send the admitted start `request`; False when the container was already running (the engine's 304)."""
    with engine_errors(target):
        response = await client.request(request.method, request.target())
        raise_for_status(response, target.name)
        return response.status_code != 304


async def resize_container(
    client: httpx.AsyncClient, target: EngineTarget, container_id: str, rows: int, cols: int
) -> None:
    with engine_errors(target):
        request = EngineRequest.build(
            "POST", "/containers/{container}/resize", container_id, query={"h": rows, "w": cols}
        )
        response = await client.request(request.method, request.target())
        raise_for_status(response, target.name)


class ExitWaiter:
    """`POST /containers/{id}/wait?condition=next-exit`, registered before the start and read at the end.

    The engine sends the answer's headers as soon as the wait is registered (before the container exits),
    and the body, `{"StatusCode": n}`, when it exits.
    """

    def __init__(self, response: httpx.Response, target: EngineTarget) -> None:
        self.response = response
        self.target = target

    @classmethod
    async def register(cls, client: httpx.AsyncClient, target: EngineTarget, container_id: str) -> ExitWaiter:
        with engine_errors(target):
            wait = EngineRequest.build(
                "POST", "/containers/{container}/wait", container_id, query={"condition": "next-exit"}
            )
            # A session may last for hours.
            request = client.build_request(wait.method, wait.target(), timeout=stream_timeout(None))
            response = await client.send(request, stream=True)
            if not response.is_success:
                await response.aread()
                await response.aclose()
                raise_for_status(response, target.name)
        return cls(response, target)

    async def exit_code(self, timeout: float) -> int | None:
        """The exit code, or None when the container has not exited within `timeout` seconds."""
        try:
            body = await asyncio.wait_for(self._read(), timeout)
        except TimeoutError:  # wait_for's own: the engine's failures are EngineErrors by now
            return None
        finally:
            await self.aclose()
        try:
            data = json.loads(body)
        except ValueError:
            raise EngineError(
                f"the engine's wait answer is not JSON: {body[:200]!r}", host=self.target.name
            ) from None
        error = (data.get("Error") or {}).get("Message") if isinstance(data, dict) else None
        if error:
            raise EngineError(f"waiting for the container failed: {error}", host=self.target.name)
        code = data.get("StatusCode") if isinstance(data, dict) else None
        return int(code) if code is not None else None

    async def _read(self) -> bytes:
        with engine_errors(self.target):
            return await self.response.aread()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.response.aclose()
