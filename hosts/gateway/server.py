"""The gateway's listener: accepts clients (plain TCP, or TLS), serves each on a task it holds on to.

Before a request is authenticated, what a client can hold is bounded: connections per client address
(MAX_CONNECTIONS_PER_ADDRESS, more get a 429) and in all (MAX_CONNECTIONS, 503), and the time to complete
the TLS handshake and the first request head (HEAD_TIMEOUT in total, connection.py). Once admitted, every
request and stream is re-checked on one timer for the whole process (StreamWatch): a revoked token, a
deactivated user or a removed grant ends it within ACCESS_RECHECK_SECONDS (plus the auth cache's time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass

from hosts import access, admission

from . import checks, conf, routing
from .checks import Credentials, SyncRunner
from .connection import ClientConnection, refuse
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
        self._addresses: Counter[str] = Counter()
        self.streams = StreamWatch(self.run_sync)

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
        await self.streams.stop()
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

    def _refusal(self, address: str) -> tuple[int, str] | None:
        """Why a new connection from `address` is not served (status, message), or None."""
        if self._addresses[address] > conf.MAX_CONNECTIONS_PER_ADDRESS:
            cap = conf.MAX_CONNECTIONS_PER_ADDRESS
            return 429, (
                f"dockerweb gateway: your address {address} already holds {cap} connections to the gateway "
                "(the most one address may hold); close some, or wait for them to end."
            )
        if len(self._tasks) > conf.MAX_CONNECTIONS:
            return 503, (
                f"dockerweb gateway: the gateway holds its most connections ({conf.MAX_CONNECTIONS}); "
                "try again shortly."
            )
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        stream: ByteStream = PlainStream(reader, writer)
        address = _address(writer)
        self._addresses[address] += 1
        # The TLS handshake and the first request head, together: a client that dribbles either is cut off.
        head_deadline = asyncio.get_running_loop().time() + conf.HEAD_TIMEOUT
        try:
            refusal = self._refusal(address)
            certificate: str | None = None
            if self.ssl_context is not None:
                tls = TLSStream(reader, writer, self.ssl_context, server_side=True)
                stream = tls
                try:
                    async with asyncio.timeout_at(head_deadline):
                        await tls.handshake()
                except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
                    # An expired or foreign client certificate ends here, with a TLS alert the client shows.
                    logger.info("gateway: TLS handshake with %s failed: %s", stream.peer, exc)
                    return
                certificate = tls.peer_fingerprint()
            if refusal is not None:
                logger.warning("gateway: refusing %s: %s", stream.peer, refusal[1])
                await refuse(stream, *refusal)
                return
            await ClientConnection(self, stream, certificate=certificate, head_deadline=head_deadline).serve()
        except (ConnectionError, OSError, TimeoutError, ssl.SSLError) as exc:
            logger.debug("gateway: connection %s ended: %s", stream.peer, exc)
        except Exception:
            logger.exception("gateway: connection %s failed", stream.peer)
        finally:
            await stream.close()
            self._tasks.discard(task)
            self._addresses[address] -= 1
            if self._addresses[address] <= 0:
                del self._addresses[address]


def _address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "unix")


@dataclass(eq=False)
class Watched:
    """One admitted request or stream: what it authenticated with, where it goes, and the task relaying its
    response (cancelled when access ends, with `ended` saying why: a status and a message)."""

    credentials: Credentials
    target: routing.Target
    task: asyncio.Task[bool]
    ended: tuple[int, str] | None = None


def still_allowed(credentials: Credentials, target: routing.Target) -> tuple[int, str] | None:
    """Why a request admitted earlier may not go on (status, message), or None: its credentials
    re-authenticated and its host re-resolved through the same cached checks as a new request
    (checks.resolve), and the caller's role there still enough for the call (hosts.admission)."""
    try:
        resolved = checks.resolve(credentials, target)
        access.require(resolved.who, resolved.host, admission.required_action(target.request))
    except checks.Unauthorized as exc:
        return 401, exc.message.removeprefix("dockerweb gateway: ").split(";")[0]
    except checks.Refused as exc:
        return exc.status, exc.payload["message"].replace(routing.USAGE, "").strip()
    except access.AccessDenied as exc:
        return 404 if exc.not_found else 403, exc.message
    return None


def _recheck(watched: list[Watched]) -> list[tuple[int, str] | None]:
    # One check per credential, host and call kind in a round: a hundred streams of one token cost one.
    seen: dict[tuple[Credentials, str, str], tuple[int, str] | None] = {}
    outcomes = []
    for item in watched:
        key = (item.credentials, item.target.host_name, str(admission.required_action(item.target.request)))
        if key not in seen:
            try:
                seen[key] = still_allowed(item.credentials, item.target)
            except Exception:
                # Access that cannot be verified is not assumed (and the log says why).
                logger.exception("gateway: re-checking a stream to host %r failed", item.target.host_name)
                seen[key] = 503, "dockerweb gateway: access could not be re-checked; see the gateway log"
        outcomes.append(seen[key])
    return outcomes


class StreamWatch:
    """One timer for every open request and stream of the process: each round re-checks them all in one
    trip to the thread pool, and ends those whose access ended."""

    def __init__(self, run_sync: SyncRunner) -> None:
        self.run_sync = run_sync
        self.open: set[Watched] = set()
        self._task: asyncio.Task[None] | None = None

    def watch(self, credentials: Credentials, target: routing.Target, task: asyncio.Task[bool]) -> Watched:
        """Re-check this request until `forget`; `task` is cancelled if its access ends."""
        watched = Watched(credentials, target, task)
        self.open.add(watched)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gateway access watch")
        return watched

    def forget(self, watched: Watched) -> None:
        self.open.discard(watched)

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks(self._task)

    async def _run(self) -> None:
        while self.open:
            await asyncio.sleep(conf.ACCESS_RECHECK_SECONDS)
            watched = list(self.open)
            try:
                outcomes = await self.run_sync(_recheck, watched)
            except Exception:
                logger.exception("gateway: re-checking open streams failed")
                continue
            for item, ended in zip(watched, outcomes, strict=True):
                if ended is not None and item in self.open:
                    self.open.discard(item)
                    item.ended = ended
                    item.task.cancel()


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
