"""Streamed engine GETs read straight off the connection, for bodies too busy for httpx (logs).

httpx hands a chunked body over one HTTP chunk at a time, and the engine flushes every log entry as a chunk
of its own: a million lines were a million trips through h11, httpcore and four async generators. Asked in
HTTP/1.0, the engine cannot chunk (Go's server then ends the body by closing the connection), so the body
arrives as the bytes the engine wrote, read in large pieces. Chunked and Content-Length bodies are still
understood, for anything in between that answers with them.

The connection is opened like the hijacked ones (streams.engine.open_engine_stream): never through a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.conf import settings

from containers.streams.engine import engine_errors, error_message, open_engine_stream, parse_head
from hosts.engine import EngineTarget
from hosts.engine.errors import error_for_status
from hosts.engine.request import EngineRequest

READ_SIZE = 256 * 1024
MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 64 * 1024


class RawResponse:
    """A response whose status was 2xx; `iter_bytes` yields its body in pieces as large as have arrived."""

    def __init__(self, reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> None:
        self.reader = reader
        self.status = status
        self.headers = headers

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    async def iter_bytes(self, size: int = READ_SIZE) -> AsyncIterator[bytes]:
        """The body, `size` bytes at most at a time: until the engine closes (HTTP/1.0), its Content-Length,
        or its last chunk."""
        reader = self.reader
        if self.chunked:
            async for data in _dechunk(reader, size):
                yield data
            return
        length = self.headers.get("content-length")
        remaining = int(length) if length is not None and length.strip().isdigit() else -1
        while remaining:
            data = await reader.read(size if remaining < 0 else min(size, remaining))
            if not data:
                if remaining > 0:
                    raise ConnectionResetError("the engine closed the connection before its answer ended")
                return
            if remaining > 0:
                remaining -= len(data)
            yield data

    async def read_bounded(self, limit: int) -> bytes:
        out = bytearray()
        async for data in self.iter_bytes():
            out += data
            if len(out) >= limit:
                break
        return bytes(out[:limit])


async def _dechunk(reader: asyncio.StreamReader, size: int) -> AsyncIterator[bytes]:
    """Decode `Transfer-Encoding: chunked`, yielding every complete piece of what one read brought."""
    buffer = bytearray()
    pos = 0
    remaining = 0  # data bytes of the current chunk still to come
    crlf = False  # the CRLF after a chunk's data is still to come
    while True:
        data = await reader.read(size)
        if not data:
            raise ConnectionResetError("the engine closed the connection in the middle of a chunked answer")
        buffer += data
        out: list[bytes] = []
        while True:
            if remaining:
                take = min(remaining, len(buffer) - pos)
                if take:
                    out.append(bytes(buffer[pos : pos + take]))
                    pos += take
                    remaining -= take
                if remaining:
                    break
                crlf = True
            if crlf:
                if len(buffer) - pos < 2:
                    break
                pos += 2
                crlf = False
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buffer[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
            pos = eol + 2
            if size == 0:  # the last chunk (trailers, if any, are not read)
                if out:
                    yield b"".join(out)
                return
            remaining = size
        del buffer[:pos]
        pos = 0
        if out:
            yield b"".join(out)


@asynccontextmanager
async def raw_get(target: EngineTarget, engine_request: EngineRequest) -> AsyncIterator[RawResponse]:
    """Send the GET `engine_request`; yields the response once its head arrived (EngineError for a non-2xx).

    Reading the body may raise OSError (the connection broke); wrap it in `engine_errors(target)`.
    """
    connect = settings.ENGINE_CONNECT_TIMEOUT
    with engine_errors(target):
        reader, writer, host = await open_engine_stream(target, READ_SIZE)
    try:
        with engine_errors(target):
            line = f"{engine_request.method} {engine_request.target()}"
            request = f"{line} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: dockerweb\r\n\r\n"
            writer.write(request.encode("latin-1"))
            await asyncio.wait_for(writer.drain(), connect)
            try:
                # Like the httpx streams before it: no read timeout, a quiet log is not a dead engine.
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                raise ConnectionResetError("the engine closed the connection without answering") from exc
            except asyncio.LimitOverrunError as exc:
                raise ConnectionResetError("the engine's answer has no end of headers") from exc
            status, reason, headers = parse_head(head)
            response = RawResponse(reader, status, headers)
            if not 200 <= status < 300:
                body = await asyncio.wait_for(
                    response.read_bounded(MAX_ERROR_BODY), settings.ENGINE_READ_TIMEOUT
                )
                raise error_for_status(status, error_message(body, reason), target.name)
        yield response
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2.0)
