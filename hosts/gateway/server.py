"""The gateway's listener: accepts clients (plain TCP, or TLS), serves each on a task it holds on to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Hashable

from . import conf
from .checks import SyncRunner
from .connection import ClientConnection
from .splice import stop_tasks
from .streams import ByteStream, PlainStream, TLSStream

logger = logging.getLogger("hosts.gateway")


class Gateway:
    """A Docker-protocol gateway listening on one address."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        threads: int = conf.DB_THREADS,
        max_streams_per_token: int = conf.MAX_STREAMS_PER_TOKEN,
    ) -> None:
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.run_sync = SyncRunner(threads)
        self.max_streams_per_token = max_streams_per_token
        self._server: asyncio.Server | None = None
        # Strong references: a connection task held only by its transport can be collected mid-stream.
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: Counter[Hashable] = Counter()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=conf.READ_CHUNK, backlog=1024, reuse_address=True
        )
        sockname = self._server.sockets[0].getsockname()
        self.port = sockname[1]
        scheme = "TLS" if self.ssl_context is not None else "plain TCP"
        logger.info("gateway listening on %s:%s (%s)", sockname[0], self.port, scheme)

    async def stop(self) -> None:
        """Stop accepting, end every connection (both sides), release the thread pool."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        if tasks:
            await stop_tasks(*tasks)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        await asyncio.get_running_loop().run_in_executor(None, self.run_sync.shutdown)

    def acquire(self, token_id: Hashable) -> bool:
        """Count one more open request or stream for this token (or client certificate); False when it is
        at its cap."""
        if self._streams[token_id] >= self.max_streams_per_token:
            return False
        self._streams[token_id] += 1
        return True

    def release(self, token_id: Hashable) -> None:
        self._streams[token_id] -= 1
        if self._streams[token_id] <= 0:
            del self._streams[token_id]

    @property
    def connections(self) -> int:
        return len(self._tasks)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        stream: ByteStream = PlainStream(reader, writer)
        try:
            if len(self._tasks) > conf.MAX_CONNECTIONS:
                logger.warning(
                    "gateway: connection limit (%s) reached; refusing %s", conf.MAX_CONNECTIONS, stream.peer
                )
                return
            certificate: str | None = None
            if self.ssl_context is not None:
                tls = TLSStream(reader, writer, self.ssl_context, server_side=True)
                stream = tls
                try:
                    await asyncio.wait_for(tls.handshake(), conf.REQUEST_TIMEOUT)
                except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
                    # An expired or foreign client certificate ends here, with a TLS alert the client shows.
                    logger.info("gateway: TLS handshake with %s failed: %s", stream.peer, exc)
                    return
                certificate = tls.peer_fingerprint()
            await ClientConnection(self, stream, certificate=certificate).serve()
        except (ConnectionError, OSError, TimeoutError, ssl.SSLError) as exc:
            logger.debug("gateway: connection %s ended: %s", stream.peer, exc)
        except Exception:
            logger.exception("gateway: connection %s failed", stream.peer)
        finally:
            await stream.close()
            self._tasks.discard(task)


async def serve(
    host: str, port: int, stop: asyncio.Event, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Run a gateway until `stop` is set."""
    gateway = Gateway(host, port, ssl_context=ssl_context)
    await gateway.start()
    try:
        await stop.wait()
    finally:
        await gateway.stop()
