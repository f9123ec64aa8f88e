"""One client connection: its requests in turn (keep-alive), and the engine connection they reuse."""

from __future__ import annotations

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

    def __init__(self, gateway: Gateway, stream: ByteStream, *, certificate: str | None = None) -> None:
        self.gateway = gateway
        self.client = ClientSide(stream)
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
        try:
            while True:
                try:
                    request = await self.client.next_request(conf.IDLE_TIMEOUT, conf.REQUEST_TIMEOUT)
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
