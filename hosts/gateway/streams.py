"""Byte streams under the HTTP layer: plain sockets, TLS driven through ssl.MemoryBIO, and engine dialing.

Both sides of the gateway (clients and engines) are `ByteStream`s, so the relay and the hijack splice never
care whether TLS is involved. TLS is driven by hand rather than by asyncio's SSL transport because that
transport turns a peer's `close_notify` into a full close, and a client half-closing stdin (`docker run -i`
over TLS) would then lose the rest of the output; here an EOF on the read side is only that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
from typing import Protocol, cast

from hosts.engine import EngineTarget
from hosts.engine.tls import ssl_context

from . import conf


class ByteStream(Protocol):
    """A bidirectional byte stream that can be half-closed."""

    peer: str

    async def read(self, max_bytes: int = conf.READ_CHUNK) -> bytes:
        """Up to `max_bytes`; b"" once the peer finished sending (FIN, or TLS close_notify)."""
        ...

    async def send(self, data: bytes) -> None:
        """Write `data` and wait until the transport's buffer is below its high-water mark."""
        ...

    async def write_eof(self) -> None:
        """Half-close: tell the peer we will send nothing more, keep reading."""
        ...

    def pause_reading(self) -> None:
        """Stop taking bytes from the socket (they wait in the kernel) until resume_reading()."""
        ...

    def resume_reading(self) -> None: ...

    async def close(self) -> None:
        """Close both directions; never raises."""
        ...


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "unix")


class PlainStream:
    """An asyncio stream pair as a ByteStream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.peer = _peer_name(writer)

    async def read(self, max_bytes: int = conf.READ_CHUNK) -> bytes:
        return await self.reader.read(max_bytes)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def write_eof(self) -> None:
        await self.writer.drain()
        if self.writer.can_write_eof() and not self.writer.is_closing():
            self.writer.write_eof()

    async def close(self) -> None:
        await _close_writer(self.writer)

    def pause_reading(self) -> None:
        _transport_of(self.writer).pause_reading()

    def resume_reading(self) -> None:
        _transport_of(self.writer).resume_reading()


def _transport_of(writer: asyncio.StreamWriter) -> asyncio.ReadTransport:
    # A socket transport reads and writes; uvloop's does not subclass asyncio's classes, hence the cast.
    return cast(asyncio.ReadTransport, writer.transport)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5)


class TLSStream:
    """TLS over an asyncio stream pair, driven through memory BIOs (see the module docstring)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.peer = _peer_name(writer)
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname
        )
        self._eof = False

    def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending and not self.writer.is_closing():
            self.writer.write(pending)

    async def _fill(self) -> None:
        """Move the next raw bytes from the socket into the TLS engine."""
        raw = await self.reader.read(conf.READ_CHUNK)
        if raw:
            self._incoming.write(raw)
        else:
            self._incoming.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if self._incoming.eof:
                    raise ConnectionError("the peer closed the connection during the TLS handshake") from None
                await self._fill()
            except ssl.SSLError:
                # The alert saying why (expired or unknown client certificate...) goes out before the close.
                with contextlib.suppress(Exception):
                    self._flush()
                    await self.writer.drain()
                raise
        self._flush()
        await self.writer.drain()

    def peer_fingerprint(self) -> str | None:
        """SHA-256 (hex) of the certificate the peer sent and the handshake verified, or None."""
        der = self.tls.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest() if der else None

    async def read(self, max_bytes: int = conf.READ_CHUNK) -> bytes:
        while not self._eof:
            try:
                data = self.tls.read(max_bytes)
            except ssl.SSLWantReadError:
                self._flush()  # a key update or session ticket may want an answer
                if self._incoming.eof:
                    self._eof = True  # TCP FIN without close_notify: also just the end of their data
                    break
                await self._fill()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self._eof = True
                break
            if data:
                return data + self._decrypted(max_bytes - len(data))
            self._eof = True  # b"": the peer's close_notify, a half-close; we may still write
        return b""

    def _decrypted(self, max_bytes: int) -> bytes:
        """More plaintext from records already received (one read gives one record, at most 16 KiB)."""
        parts = []
        while max_bytes > 0 and (self._incoming.pending or self.tls.pending()):
            try:
                data = self.tls.read(max_bytes)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break  # the next read() finds out the rest
            if not data:
                break
            parts.append(data)
            max_bytes -= len(data)
        return b"".join(parts)

    async def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()
        await self.writer.drain()

    async def write_eof(self) -> None:
        # close_notify without closing the socket, as Go's tls.Conn.CloseWrite does (the docker CLI's
        # half-close towards a TLS engine): OpenSSL keeps decrypting what the peer still sends.
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        self._flush()
        await self.writer.drain()

    def pause_reading(self) -> None:
        _transport_of(self.writer).pause_reading()

    def resume_reading(self) -> None:
        _transport_of(self.writer).resume_reading()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.tls.unwrap()  # sends our close_notify; the peer's answer is not waited for
        with contextlib.suppress(Exception):
            self._flush()
        await _close_writer(self.writer)


async def read_after(stream: ByteStream, delay: float, max_bytes: int) -> bytes:
    """Wait `delay` without reading (what arrives meanwhile stays in the kernel's socket buffer), then
    return what came, or b"" if nothing did within another `delay`."""
    stream.pause_reading()
    try:
        await asyncio.sleep(delay)
    finally:
        stream.resume_reading()
    try:
        async with asyncio.timeout(delay):
            return await stream.read(max_bytes)
    except TimeoutError:
        return b""


def _set_keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


async def open_engine(target: EngineTarget, timeout: float) -> ByteStream:
    """A connection to the engine of `target` (unix socket, TCP, or TCP with the host's TLS material)."""
    address = target.address
    if address.scheme == "unix":
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(address.socket_path, limit=conf.READ_CHUNK), timeout
        )
        return PlainStream(reader, writer)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address.hostname, address.port, limit=conf.READ_CHUNK), timeout
    )
    _set_keepalive(writer)
    if not target.uses_tls:
        return PlainStream(reader, writer)
    stream = TLSStream(
        reader, writer, ssl_context(target.tls), server_side=False, server_hostname=address.hostname
    )
    try:
        await asyncio.wait_for(stream.handshake(), timeout)
    except BaseException:
        await stream.close()
        raise
    return stream
