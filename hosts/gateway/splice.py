"""The hijacked stream after attach/exec start: bytes both ways until the engine's output ends."""

from __future__ import annotations

import asyncio
from typing import Any

from . import conf
from .streams import ByteStream, read_after


async def _copy(
    source: ByteStream, sink: ByteStream, first: bytes, source_done: bool, *, coalesce: bool = False
) -> int:
    copied = len(first)
    if first:
        await sink.send(first)
    while not source_done:
        data = await source.read(conf.READ_CHUNK)
        if not data:
            break
        if coalesce and len(data) < conf.COALESCE_BELOW:
            # Output written a line at a time goes out in fewer, larger writes (a few ms later at most).
            data += await read_after(source, conf.COALESCE_SECONDS, conf.READ_CHUNK)
        copied += len(data)
        await sink.send(data)  # waits for the sink to drain: memory stays bounded by one chunk per side
    return copied


async def splice(
    client: ByteStream,
    engine: ByteStream,
    *,
    to_engine: bytes = b"",
    client_closed: bool = False,
    to_client: bytes = b"",
) -> tuple[int, int]:
    """Relay until the engine ends its output; returns (bytes sent to the engine, bytes sent to the client).

    The client's half-close (stdin EOF) becomes a half-close towards the engine while its output keeps
    flowing; `to_engine`/`to_client` are bytes already read past the HTTP heads on either side.
    """

    async def upstream() -> int:
        copied = await _copy(client, engine, to_engine, client_closed)
        await engine.write_eof()
        return copied

    up = asyncio.create_task(upstream())
    down = asyncio.create_task(_copy(engine, client, to_client, False, coalesce=True))
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
