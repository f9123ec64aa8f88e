"""The hijacked stream after attach/exec start: bytes both ways until the engine's output ends."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from . import conf
from .streams import ByteStream, read_after

_RAW_STREAM = b"application/vnd.docker.raw-stream"
_MULTIPLEXED_STREAM = b"application/vnd.docker.multiplexed-stream"
_API_VERSION = re.compile(rb"/v(\d+)\.(\d+)/")
_STDERR_FRAME = b"\x02\x00\x00\x00"


class Output:
    """What a hijacked stream carries towards the client, as far as the gateway can tell: a terminal's raw
    bytes, or stdout/stderr in 8-byte-headed frames. The engine's Content-Type says which from API 1.42 on
    (before, it calls every stream raw); the first bytes of output tell for sure (a frame header is
    `01|02 00 00 00`, which no terminal prints)."""

    def __init__(self, content_type: bytes | None, request_target: bytes) -> None:
        version = _API_VERSION.search(request_target)
        truthful = version is None or (int(version[1]), int(version[2])) >= (1, 42)
        self.declared = content_type if truthful else None
        self.head = b""  # the first bytes sent to the client

    def saw(self, data: bytes) -> None:
        if len(self.head) < 4:
            self.head = (self.head + data)[:4]

    def farewell(self, reason: str) -> bytes:
        """The line the stream ends with when dockerweb ends it, or b"" where a line would break the frames
        the client reads (a multiplexed stream that may be mid-frame, or one of unknown kind)."""
        line = f"dockerweb: access revoked: {reason}\r\n"
        if self.head:
            multiplexed = len(self.head) >= 4 and self.head[0] in (0, 1, 2) and self.head[1:4] == b"\0\0\0"
            return b"" if multiplexed else ("\r\n" + line).encode()
        if self.declared == _RAW_STREAM:
            return line.encode()
        if self.declared == _MULTIPLEXED_STREAM:  # nothing sent yet: a frame of its own fits
            payload = line.encode()
            return _STDERR_FRAME + len(payload).to_bytes(4, "big") + payload
        return b""


async def _copy(
    source: ByteStream,
    sink: ByteStream,
    first: bytes,
    source_done: bool,
    *,
    coalesce: bool = False,
    output: Output | None = None,
) -> int:
    copied = len(first)
    if first:
        if output is not None:
            output.saw(first)
        await sink.send(first)
    while not source_done:
        data = await source.read(conf.READ_CHUNK)
        if not data:
            break
        if coalesce and len(data) < conf.COALESCE_BELOW:
            # Output written a line at a time goes out in fewer, larger writes (a few ms later at most).
            data += await read_after(source, conf.COALESCE_SECONDS, conf.READ_CHUNK)
        copied += len(data)
        if output is not None and len(output.head) < 4:
            output.saw(data)
        await sink.send(data)  # waits for the sink to drain: memory stays bounded by one chunk per side
    return copied


async def splice(
    client: ByteStream,
    engine: ByteStream,
    *,
    to_engine: bytes = b"",
    client_closed: bool = False,
    to_client: bytes = b"",
    output: Output | None = None,
) -> tuple[int, int]:
    """Relay until the engine ends its output; returns (bytes sent to the engine, bytes sent to the client).

    The client's half-close (stdin EOF) becomes a half-close towards the engine while its output keeps
    flowing; `to_engine`/`to_client` are bytes already read past the HTTP heads on either side; `output`
    learns what kind of stream goes to the client.
    """

    async def upstream() -> int:
        copied = await _copy(client, engine, to_engine, client_closed)
        await engine.write_eof()
        return copied

    up = asyncio.create_task(upstream())
    down = asyncio.create_task(_copy(engine, client, to_client, False, coalesce=True, output=output))
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if down not in done:
            up.result()  # the client broke off: raises; otherwise stdin ended and the output runs on
            await down
        sent_up = up.result() if up.done() and not up.cancelled() and up.exception() is None else 0
        return sent_up, down.result()
    finally:
        await stop_tasks(up, down)


async def stop_tasks(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and wait until they have ended, whatever they ended with; a cancellation of the
    caller itself still propagates."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
