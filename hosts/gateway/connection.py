"""One client connection: its requests in turn (keep-alive), and the engine connection they reuse.

A request head must arrive whole within HEAD_TIMEOUT: counted from the connection's start for its first
request (a client that connects and dribbles, or sends nothing, holds it no longer), and from the first byte
for the next ones (a kept-alive connection may idle for IDLE_TIMEOUT in between)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import h11
from django.conf import settings

from hosts.engine import EngineTarget

from . import conf, http
from .checks import Credentials
from .http import ClientSide, EngineSide
from .relay import Exchange
from .streams import ByteStream

if TYPE_CHECKING:
    from .server import Gateway

logger = logging.getLogger("hosts.gateway")


class ClientConnection:
    """Serves the requests of one client connection, one after another."""

    def __init__(
        self,
        gateway: Gateway,
        stream: ByteStream,
        *,
        certificate: str | None = None,
        head_deadline: float | None = None,
    ) -> None:
        self.gateway = gateway
        self.arrivals = _HeadClock(stream)
        self.client = ClientSide(self.arrivals)
        # The loop time by which the first request head must be in (None: HEAD_TIMEOUT from serve()).
        self.head_deadline = head_deadline
        self.engine: EngineSide | None = None  # kept alive between requests to the same engine
        self.source_ip = stream.peer.rsplit(":", 1)[0] if ":" in stream.peer else None
        # The fingerprint of the client certificate the TLS handshake verified: each request is still
        # authenticated on its own (checks.authenticate), the row behind it re-read every few seconds.
        self.certificate = certificate
        self.tls = gateway.ssl_context is not None

    def credentials(self, authorization: bytes | None) -> Credentials:
        """What a request on this connection can authenticate with."""
        return Credentials(authorization, self.certificate, self.tls)

    async def serve(self) -> None:
        if self.head_deadline is None:
            self.head_deadline = asyncio.get_running_loop().time() + conf.HEAD_TIMEOUT
        try:
            while True:
                try:
                    request = await self._next_request()
                except h11.RemoteProtocolError as exc:
                    await self._bad_request(exc)
                    return
                if request is None:
                    return
                exchange = Exchange(self, request)
                try:
                    keep = await exchange.run()
                finally:
                    self._log(exchange)
                if not keep:
                    return
                self.client.conn.start_next_cycle()
        finally:
            if self.engine is not None:
                await self.engine.close()
                self.engine = None
            await self.client.stream.close()

    async def _next_request(self) -> h11.Request | None:
        """The next request head within its deadline (see the module docstring); None when the client is
        done, idle too long, or too slow (then told so with a 408)."""
        loop = asyncio.get_running_loop()
        deadline, self.head_deadline = self.head_deadline, None
        if deadline is None and self.client.conn.trailing_data[0]:
            deadline = loop.time() + conf.HEAD_TIMEOUT  # a pipelined request is already on its way
        try:
            async with asyncio.timeout_at(deadline) as timer:
                self.arrivals.timer = timer
                return await self.client.next_request(conf.IDLE_TIMEOUT, conf.REQUEST_TIMEOUT)
        except TimeoutError:
            logger.info("gateway: %s sent no whole request head in time", self.client.stream.peer)
            message = f"dockerweb gateway: the request head did not arrive within {conf.HEAD_TIMEOUT:g}s."
            await refuse(self.client.stream, 408, message)
            return None
        finally:
            self.arrivals.timer = None

    async def _bad_request(self, exc: h11.RemoteProtocolError) -> None:
        if not self.client.can_reply:
            return
        status = exc.error_status_hint or 400
        response, body = http.json_reply(status, {"message": f"dockerweb gateway: bad request: {exc}"})
        with contextlib.suppress(Exception):
            await http.send_reply(self.client, "GET", response, body)

    def _log(self, exchange: Exchange) -> None:
        # Never the query string (it may carry build args) nor any header (tokens, registry auth).
        elapsed = (time.monotonic() - exchange.started) * 1000
        logger.info(
            '%s %s "%s %s" %s %.1fms',
            self.client.stream.peer,
            exchange.user,
            exchange.method,
            exchange.log_path,
            exchange.status or "-",
            elapsed,
        )

    async def engine_for(self, target: EngineTarget, *, fresh: bool) -> EngineSide:
        """The kept-alive connection to this engine, or a new one (always new when `fresh`)."""
        if not fresh and self.engine is not None:
            if self.engine.key == target:
                return self.engine
            await self.engine.close()
            self.engine = None
        engine = await EngineSide.open(target, settings.ENGINE_CONNECT_TIMEOUT)
        if not fresh:
            self.engine = engine
        return engine

    async def done_with(self, engine: EngineSide, reusable: bool) -> None:
        """Keep `engine` for the next request when its exchange ended cleanly, else close it."""
        if reusable and engine.reusable:
            engine.conn.start_next_cycle()
            if self.engine is not engine:
                if self.engine is not None:
                    await self.engine.close()
                self.engine = engine
            return
        if self.engine is engine:
            self.engine = None
        await engine.close()


class _HeadClock:
    """The client's stream as the connection reads it: the first bytes of a request head, while one is
    awaited, start its HEAD_TIMEOUT (the keep-alive wait before them is IDLE_TIMEOUT's business)."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.peer = stream.peer
        self.timer: asyncio.Timeout | None = None

    async def read(self, max_bytes: int = conf.READ_CHUNK) -> bytes:
        data = await self.stream.read(max_bytes)
        timer = self.timer
        if data and timer is not None and timer.when() is None:
            timer.reschedule(asyncio.get_running_loop().time() + conf.HEAD_TIMEOUT)
        return data

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def write_eof(self) -> None:
        await self.stream.write_eof()

    def pause_reading(self) -> None:
        self.stream.pause_reading()

    def resume_reading(self) -> None:
        self.stream.resume_reading()

    async def close(self) -> None:
        await self.stream.close()


async def refuse(stream: ByteStream, status: int, message: str) -> None:
    """Answer a connection the gateway will not serve (over a cap, or too slow with its request head) with
    Docker's `{"message": ...}` and close it. What the client sent is read and dropped for a moment first:
    closing with unread bytes would reset the connection and could destroy the answer before it is read."""
    response, body = http.json_reply(status, {"message": message})
    with contextlib.suppress(Exception):
        async with asyncio.timeout(conf.LINGER_SECONDS):
            await stream.send(http.raw_head(response) + body)
            await stream.write_eof()
            while await stream.read():
                pass
    await stream.close()
