"""Exec sessions: create an exec, start it hijacked on a raw connection (unix socket or TLS), relay bytes.

httpx cannot hand over a connection after `101 UPGRADED`, so the start request is written by hand on an
asyncio stream; everything else (create, resize, inspect) goes through the shared httpx client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from containers.streams.engine import engine_errors, get_json
from containers.streams.frames import Demultiplexer
from hosts.engine import EngineTarget
from hosts.engine.errors import error_for_status, raise_for_status
from hosts.engine.tls import ssl_context

READ_SIZE = 64 * 1024
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


async def create_exec(client: httpx.AsyncClient, target: EngineTarget, container_id: str, body: bytes) -> str:
    """Create the exec instance; returns its id (NotFound, Conflict when the container is not running)."""
    with engine_errors(target):
        response = await client.post(
            f"/containers/{container_id}/exec", content=body, headers={"Content-Type": "application/json"}
        )
        raise_for_status(response, target.name)
        return str(response.json()["Id"])


async def resize_exec(
    client: httpx.AsyncClient, target: EngineTarget, exec_id: str, rows: int, cols: int
) -> None:
    with engine_errors(target):
        response = await client.post(f"/exec/{exec_id}/resize", params={"h": rows, "w": cols})
        raise_for_status(response, target.name)


async def inspect_exec(client: httpx.AsyncClient, target: EngineTarget, exec_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await get_json(client, target, f"/exec/{exec_id}/json")
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


class ExecConnection:
    """A started exec: the hijacked connection, stdin going out, stdout/stderr coming in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tty: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.tty = tty
        self.head = bytearray()  # the first output bytes, to explain a failed start
        self._demux = None if tty else Demultiplexer()

    @classmethod
    async def start(cls, target: EngineTarget, exec_id: str, tty: bool) -> ExecConnection:
        """Send `POST /exec/{id}/start` with `Upgrade: tcp` and return once the engine switched protocols."""
        address = target.address
        connect = settings.ENGINE_CONNECT_TIMEOUT
        with engine_errors(target):
            if address.scheme == "unix":
                opening = asyncio.open_unix_connection(address.socket_path, limit=READ_SIZE)
                host = "docker"
            else:
                tls = ssl_context(target.tls) if target.uses_tls else None
                opening = asyncio.open_connection(address.hostname, address.port, ssl=tls, limit=READ_SIZE)
                host = f"{address.hostname}:{address.port}"
            reader, writer = await asyncio.wait_for(opening, connect)
            connection = cls(reader, writer, tty)
            try:
                await connection._handshake(target, exec_id, host)
            except BaseException:
                await connection.close()
                raise
        return connection

    async def _handshake(self, target: EngineTarget, exec_id: str, host: str) -> None:
        body = json.dumps({"Detach": False, "Tty": self.tty}).encode()
        head = (
            f"POST /exec/{exec_id}/start HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dockerweb\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), settings.ENGINE_READ_TIMEOUT)
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status in (101, 200):  # without Upgrade support in between the engine still hijacks, with 200
            return
        headers = dict(line.split(":", 1) for line in header_lines if ":" in line)
        length = int(headers.get("Content-Length", headers.get("content-length", "0")).strip() or 0)
        payload = await asyncio.wait_for(self.reader.read(min(length, READ_SIZE) or READ_SIZE), 2.0)
        try:
            message = str(json.loads(payload).get("message") or payload.decode())
        except ValueError:
            message = payload.decode("utf-8", "replace") or status_line
        raise error_for_status(status, message.strip(), target.name)

    async def read(self) -> bytes:
        """The next output bytes (stdout and stderr as the terminal shows them); b"" at the end."""
        while True:
            try:
                chunk = await self.reader.read(READ_SIZE)
            except OSError:  # the engine went away: the exit code lookup says what happened
                return b""
            if not chunk:
                return b""
            if self._demux is not None:
                chunk = b"".join(piece for _stream, piece, _complete in self._demux.feed(chunk))
                if not chunk:
                    continue  # only a frame header so far
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            return chunk

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_stdin(self) -> bool:
        """Half-close: the process sees end of input. False where the transport cannot (TLS)."""
        if self.writer.can_write_eof():
            self.writer.write_eof()
            return True
        return False

    async def hang_up(self) -> None:
        """End the session from our side: the command sees end of input, then the connection closes."""
        with contextlib.suppress(Exception):
            if self.tty:
                # A terminal's input never ends by closing it: interrupt what runs, then end of input.
                await self.write(b"\x03\x04")
            else:
                self.close_stdin()
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)

    def command_missing(self) -> bool:
        """Whether the engine said the command could not be started (not found, not executable)."""
        text = bytes(self.head).decode("utf-8", "replace")
        return "OCI runtime exec failed" in text or "executable file not found" in text
