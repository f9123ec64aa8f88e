"""HTTP/1.1 on both sides of the gateway with h11: the client's connection (we are the server) and the
engine's (we are the client), header rewriting between them, and JSON error replies in the engine's shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import h11

from hosts.engine import EngineTarget

from . import conf, streams
from .streams import ByteStream

Headers = list[tuple[bytes, bytes]]
Json = dict[str, Any] | list[Any]  # a reply body the gateway writes itself
Event = h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]

# Hop-by-hop headers (RFC 9110 7.6.1) and what the gateway sets itself; never copied across.
_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade", b"transfer-encoding"}
)
# Never sent on to the engine: our own credentials, and framing we redo.
_NOT_TO_ENGINE = _HOP | {b"authorization", b"proxy-authorization", b"host", b"content-length", b"expect"}


class ClientGone(Exception):
    """The client closed or broke its connection."""


class ClientSide:
    """The client's connection: h11 in the server role over a ByteStream."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=conf.MAX_HEAD_BYTES)
        self.eof = False
        # Small responses go out in one write: head and body are queued until the relay would wait.
        self._out: list[bytes] = []
        self._queued = 0

    async def _receive(self, timeout: float | None) -> None:
        if self.eof:
            raise ClientGone("the client closed its connection")
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no task per read
                data = await self.stream.read()
        except (ConnectionError, OSError) as exc:
            raise ClientGone(str(exc)) from exc
        self.eof = not data
        self.conn.receive_data(data)

    async def next_request(self, idle_timeout: float, head_timeout: float) -> h11.Request | None:
        """The next request head, or None when the client is done or idle too long."""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                buffered = bool(self.conn.trailing_data[0])
                try:
                    await self._receive(head_timeout if buffered else idle_timeout)
                except (ClientGone, TimeoutError):
                    return None
                continue
            if isinstance(event, h11.Request):
                return event
            return None  # ConnectionClosed, or PAUSED after a switch we never continue from

    async def next_body_event(self, timeout: float) -> h11.Data | h11.EndOfMessage:
        """The next piece of the request body; raises ClientGone when the client stops sending."""
        if self.conn.client_is_waiting_for_100_continue:
            await self.send(h11.InformationalResponse(status_code=100, headers=[]))
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    await self._receive(timeout)
                except TimeoutError:
                    raise ClientGone(f"no request body data for {timeout:g}s") from None
                continue
            if isinstance(event, h11.Data | h11.EndOfMessage):
                return event
            raise ClientGone("the client closed its connection inside a request body")

    async def read_body(self, limit: int, timeout: float) -> bytes | None:
        """The whole request body, or None when it is longer than `limit` (the rest stays unread)."""
        parts: list[bytes] = []
        size = 0
        while True:
            event = await self.next_body_event(timeout)
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            size += len(event.data)
            if size > limit:
                return None
            parts.append(event.data)

    async def drain_body(self, limit: int = 1 << 20, timeout: float = 5.0) -> bool:
        """Read and drop the rest of an unwanted request body, so the connection can be reused."""
        dropped = 0
        try:
            while self.conn.their_state is h11.SEND_BODY and dropped <= limit:
                event = await self.next_body_event(timeout)
                if isinstance(event, h11.Data):
                    dropped += len(event.data)
        except ClientGone:
            return False
        return self.conn.their_state is h11.DONE

    async def watch_for_close(self) -> None:
        """Return once the client closes its side, while a response streams; what it sends ahead meanwhile
        waits in h11's buffer (bounded: past MAX_PIPELINED_BYTES this stops watching and never returns)."""
        received = 0
        while not self.eof and received <= conf.MAX_PIPELINED_BYTES:
            try:
                data = await self.stream.read()
            except (ConnectionError, OSError):
                data = b""
            received += len(data)
            self.eof = not data
            self.conn.receive_data(data)
        if not self.eof:
            await asyncio.Future()

    def queue(self, event: h11.Event) -> int:
        """Encode `event` for sending with the next flush(); returns the bytes now queued."""
        data = self.conn.send(event)
        if data:
            self._out.append(data)
            self._queued += len(data)
        return self._queued

    async def flush(self) -> None:
        if self._out:
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self._queued = 0
            await self.stream.send(data)

    async def send(self, event: h11.Event) -> None:
        self.queue(event)
        await self.flush()

    @property
    def reusable(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE and not self.eof

    @property
    def can_reply(self) -> bool:
        return self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE)


class EngineSide:
    """A connection to an engine: h11 in the client role; hands out response bodies in batches."""

    def __init__(self, stream: ByteStream, key: EngineTarget) -> None:
        self.stream, self.key = stream, key
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=conf.MAX_HEAD_BYTES)
        self._pending: Event | None = None
        self.used = False

    @classmethod
    async def open(cls, target: EngineTarget, timeout: float) -> EngineSide:
        return cls(await streams.open_engine(target, timeout), target)

    async def send(self, *events: h11.Event) -> None:
        """Send events in one write."""
        self.used = True
        data = b"".join(self.conn.send(event) or b"" for event in events)
        if data:
            await self.stream.send(data)

    def poll(self) -> Event | None:
        """The next event if it is already received, else None; consecutive body pieces come merged
        into one Data (the engine writes one chunk per log line or progress message: merged, the client
        gets one write per read instead of one per line)."""
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        event = self.conn.next_event()
        if event is h11.NEED_DATA:
            return None
        if isinstance(event, h11.Data):
            parts = [event.data]
            while True:
                more = self.conn.next_event()
                if isinstance(more, h11.Data):
                    parts.append(more.data)
                    continue
                if more is not h11.NEED_DATA:
                    self._pending = more
                break
            if len(parts) > 1:
                event = h11.Data(data=b"".join(parts))
        return event

    async def next_event(self) -> Event:
        while (event := self.poll()) is None:
            self.conn.receive_data(await self.stream.read())
        return event

    @property
    def reusable(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE and not self._pending

    async def close(self) -> None:
        await self.stream.close()


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header `name` (lower case) in an h11 header list."""
    for key, value in headers:
        if key == name:
            return value
    return None


def to_engine(request: h11.Request, *, upgrade: bytes | None, close: bool, length: int | None) -> Headers:
    """Request headers for the engine: no token, no hop-by-hop headers, our own framing and connection."""
    headers: Headers = [(b"Host", b"docker")]
    headers += [
        (name, value) for name, value in request.headers.raw_items() if name.lower() not in _NOT_TO_ENGINE
    ]
    if upgrade is not None:
        headers += [(b"Connection", b"Upgrade"), (b"Upgrade", upgrade)]
    elif close:
        headers.append((b"Connection", b"close"))
    if length is not None:
        headers.append((b"Content-Length", str(length).encode()))
    elif header(request.headers, b"transfer-encoding") is not None:
        headers.append((b"Transfer-Encoding", b"chunked"))
    return headers


def to_client(response: h11.Response | h11.InformationalResponse, *, keep_framing: bool = False) -> Headers:
    """Response headers for the client: the engine's own (Api-Version, Ostype, Docker-Experimental, ...)
    minus hop-by-hop ones; with keep_framing, its Transfer-Encoding stays (the body is relayed as is)."""
    keep = {b"transfer-encoding"} if keep_framing else set()
    return [
        (name, value)
        for name, value in response.headers.raw_items()
        if name.lower() not in _HOP or name.lower() in keep
    ]


def raw_head(response: h11.Response) -> bytes:
    """The engine's response head as bytes, for a body that runs until the connection closes.

    h11 would frame a body without Content-Length as chunked for an HTTP/1.1 client, but a hijacked
    attach or exec answered with 200 is a raw stream to the end of the connection."""
    lines = [b"HTTP/1.1 %d %s" % (response.status_code, response.reason or b"OK")]
    lines += [name + b": " + value for name, value in to_client(response)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def json_reply(status: int, payload: Json, extra: Headers | None = None) -> tuple[h11.Response, bytes]:
    """An error (or small) reply in the engine's JSON shape: the docker CLI prints its `message`."""
    body = json.dumps(payload).encode() + b"\n"
    headers: Headers = [
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(body)).encode()),
        *(extra or []),
    ]
    return h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase), body


async def send_reply(client: ClientSide, method: str, response: h11.Response, body: bytes) -> None:
    client.queue(response)
    if method != "HEAD" and body:
        client.queue(h11.Data(data=body))
    client.queue(h11.EndOfMessage())
    await client.flush()


async def engine_get_json(target: EngineTarget, path: str, timeout: float) -> tuple[int, Any]:
    """GET `path` from the engine on a connection of its own; (status, parsed JSON or None)."""
    engine = await EngineSide.open(target, timeout)
    try:
        async with asyncio.timeout(timeout):
            request = h11.Request(method="GET", target=path, headers=[(b"Host", b"docker")])
            await engine.send(request, h11.EndOfMessage())
            status, parts, size = 0, [], 0
            while True:
                event = await engine.next_event()
                if isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > conf.MAX_STREAM_LINE_BYTES:
                        return status, None
                    parts.append(event.data)
                else:
                    break
    finally:
        await engine.close()
    try:
        return status, json.loads(b"".join(parts))
    except ValueError:
        return status, None
