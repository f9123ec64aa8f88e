"""Exec sessions: create an exec, start it on a hijacked connection (containers.streams.hijack), relay bytes.

Create, resize and inspect go through the shared httpx client.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from containers.streams.engine import engine_errors, get_json
from containers.streams.hijack import HijackedConnection
from hosts.engine import EngineTarget
from hosts.engine.errors import raise_for_status
from hosts.engine.request import EngineRequest

HEAD_BYTES = 2048  # output kept to explain a failed start ("executable file not found")


@dataclass(frozen=True)
class ExecRequest:
    """What the viewer asked to run; `body()` is the engine's exec create body (what admit checks)."""

    cmd: list[str]
    user: str = ""
    workdir: str = ""
    env: list[str] = field(default_factory=list)
    tty: bool = True
    privileged: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": self.tty,
            "Cmd": self.cmd,
        }
        if self.user:
            body["User"] = self.user
        if self.workdir:
            body["WorkingDir"] = self.workdir
        if self.env:
            body["Env"] = self.env
        if self.privileged:
            body["Privileged"] = True
        return body


async def create_exec(client: httpx.AsyncClient, target: EngineTarget, request: EngineRequest) -> str:
    """Send the admitted exec create `request`; returns the exec's id (NotFound, Conflict when the
    container is not running)."""
    with engine_errors(target):
        headers = {"Content-Type": request.content_type or "application/json"}
        response = await client.request(
            request.method, request.target(), content=request.body, headers=headers
        )
        raise_for_status(response, target.name)
        return str(response.json()["Id"])


async def resize_exec(
    client: httpx.AsyncClient, target: EngineTarget, exec_id: str, rows: int, cols: int
) -> None:
    with engine_errors(target):
        request = EngineRequest.build("POST", "/exec/{exec}/resize", exec_id, query={"h": rows, "w": cols})
        response = await client.request(request.method, request.target())
        raise_for_status(response, target.name)


async def inspect_exec(client: httpx.AsyncClient, target: EngineTarget, exec_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await get_json(
        client, target, EngineRequest.build("GET", "/exec/{exec}/json", exec_id)
    )
    return result


async def exit_code(
    client: httpx.AsyncClient, target: EngineTarget, exec_id: str, wait: float = 3.0
) -> int | None:
    """The exec's exit code, waiting briefly for the engine to notice the process ended."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        info = await inspect_exec(client, target, exec_id)
        if not info.get("Running") or asyncio.get_running_loop().time() > deadline:
            code = info.get("ExitCode")
            return None if info.get("Running") else (int(code) if code is not None else None)
        await asyncio.sleep(0.05)


class ExecConnection(HijackedConnection):
    """A started exec: the hijacked connection, stdin going out, stdout/stderr coming in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tty: bool) -> None:
        super().__init__(reader, writer, tty)
        self.head = bytearray()  # the first output bytes, to explain a failed start

    @classmethod
    async def start(cls, target: EngineTarget, exec_id: str, tty: bool) -> ExecConnection:
        """Send `POST /exec/{id}/start` with `Upgrade: tcp` and return once the engine switched protocols."""
        request = EngineRequest.build("POST", "/exec/{exec}/start", exec_id)
        return await cls.open(target, request, tty=tty, body={"Detach": False, "Tty": tty})

    async def read_pieces(self) -> list[tuple[int, bytes]]:
        pieces = await super().read_pieces()
        for _stream, piece in pieces:
            if len(self.head) >= HEAD_BYTES:
                break
            self.head += piece[: HEAD_BYTES - len(self.head)]
        return pieces

    async def hang_up(self) -> None:
        """End the session from our side: the command sees end of input, then the connection closes."""
        with contextlib.suppress(Exception):
            if self.tty:
                # A terminal's input never ends by closing it: interrupt what runs, then end of input.
                await self.write(b"\x03\x04")
            else:
                self.close_stdin()
        await self.close()

    def command_missing(self) -> bool:
        """Whether the engine said the command could not be started (not found, not executable)."""
        text = bytes(self.head).decode("utf-8", "replace")
        return "OCI runtime exec failed" in text or "executable file not found" in text
