"""Hijacked engine connections (exec start, container attach): the request that switches the HTTP connection
to a raw byte stream, then stdin going out and stdout/stderr coming in.

httpx cannot hand over a connection after `101 UPGRADED`, so these requests are written by hand on an
asyncio stream, over the host's unix socket, TCP, or TLS with its in-memory context; everything else (create,
resize, inspect, wait) goes through the shared httpx client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Self

from django.conf import settings

from containers.streams.engine import engine_errors, error_message, open_engine_stream, parse_head
from containers.streams.frames import Demultiplexer
from hosts.engine import EngineTarget
from hosts.engine.errors import error_for_status
from hosts.engine.request import EngineRequest

READ_SIZE = 64 * 1024
STDOUT, STDERR = 1, 2


class HijackedConnection:
    """A connection the engine switched to a raw stream: stdout/stderr demultiplexed unless it has a TTY."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tty: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.tty = tty
        self._demux = None if tty else Demultiplexer()

    @classmethod
    async def open(
        cls, target: EngineTarget, request: EngineRequest, *, tty: bool, body: dict[str, Any] | None = None
    ) -> Self:
        """`POST path` with `Upgrade: tcp`; returns once the engine switched protocols (else EngineError)."""
        with engine_errors(target):
            reader, writer, host = await open_engine_stream(target, READ_SIZE)
            connection = cls(reader, writer, tty)
            try:
                await connection._handshake(target, request.target(), host, body)
            except BaseException:
                await connection.close()
                raise
        return connection

    async def _handshake(
        self, target: EngineTarget, path: str, host: str, body: dict[str, Any] | None
    ) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dockerweb\r\n{kind}"
            f"Content-Length: {len(payload)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), settings.ENGINE_READ_TIMEOUT)
        status, reason, headers = parse_head(raw)
        if status in (101, 200):  # without Upgrade support in between the engine still hijacks, with 200
            return
        length_text = headers.get("content-length", "")
        length = int(length_text) if length_text.isdigit() else 0
        answer = await asyncio.wait_for(self.reader.read(min(length, READ_SIZE) or READ_SIZE), 2.0)
        raise error_for_status(status, error_message(answer, reason), target.name)

    async def read_pieces(self) -> list[tuple[int, bytes]]:
        """The next output as (stream, bytes) pieces, consecutive pieces of one stream joined; [] at the end.

        With a TTY everything is stdout (the engine sends the terminal's bytes as they are).
        """
        while True:
            try:
                chunk = await self.reader.read(READ_SIZE)
            except OSError:  # the engine went away: what happened is for the caller to find out
                return []
            if not chunk:
                return []
            if self._demux is None:
                return [(STDOUT, chunk)]
            pieces: list[tuple[int, bytes]] = []
            for stream, piece, _complete in self._demux.feed(chunk):
                stream = STDERR if stream in (STDERR, 3) else STDOUT  # 3: the engine's own error
                if pieces and pieces[-1][0] == stream:
                    pieces[-1] = (stream, pieces[-1][1] + piece)
                else:
                    pieces.append((stream, piece))
            if pieces:
                return pieces
            # only a frame header so far

    async def read(self) -> bytes:
        """The next output bytes, stdout and stderr together as a terminal shows them; b"" at the end."""
        return b"".join(piece for _stream, piece in await self.read_pieces())

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_stdin(self) -> bool:
        """Half-close: the process sees end of input. False where the transport cannot (TLS)."""
        if self.writer.can_write_eof():
            self.writer.write_eof()
            return True
        return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
