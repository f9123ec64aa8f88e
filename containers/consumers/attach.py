"""Attach to a container's main process: `ws/hosts/<host_id>/containers/<container>/attach/?start=1`.

`docker attach`, and with `start=1` `docker start -ai`: a browser's `docker run -it` is a REST create (tty,
stdin open) followed by this socket with start=1. The session attaches first, registers the wait for the exit,
and only then starts the container, so no early output is lost.

Query: `start=1` (start the container once attached), `cols` and `rows` (the terminal's size).

Binary frames carry the process's terminal both ways. With a TTY the output frames are the terminal's bytes;
without one, each output frame starts with one byte naming its stream (1 stdout, 2 stderr) and the `ready`
message says `"stream_prefix": true`. Text frames are JSON: client → server `resize` (cols, rows; applied
once the container runs), `input` (data as text), `eof` (end of stdin), `start`; server → client `ready`,
`started`, `exit` (the process's exit code, then a normal close), `detached` (the engine ended the stream
while the container runs on) and `error`. Closing the socket detaches: the container goes on.

Access is exec's: operator on the host, on a container the caller owns (hosts.admission for
`POST /containers/{id}/attach`, and `/start` when starting). Every session is audited (container.attach,
with its duration), and a start too (container.start).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from channels.db import database_sync_to_async

from containers.consumers.terminal import TerminalConsumer
from containers.streams import as_bool, inspect_container
from containers.streams.attach import (
    ATTACH_QUERY,
    AttachConnection,
    ExitWaiter,
    StdinConfig,
    attach_request,
    resize_container,
    start_container,
)
from containers.streams.hijack import HijackedConnection
from hosts import audit, policy
from hosts.access import AccessDenied
from hosts.admission import admit
from hosts.engine import EngineError, NotFound
from hosts.engine.request import EngineRequest
from hosts.models import EntryPoint, Outcome

EXIT_WAIT = 3.0  # seconds for the engine to report the exit after the output ended


class AttachConsumer(TerminalConsumer):
    """A session with the main process of one container (attached, optionally started)."""

    verb: ClassVar[str] = "attach"
    client_messages: ClassVar[frozenset[str]] = TerminalConsumer.client_messages | {"start"}

    def parse(self) -> None:
        self.start_requested = as_bool(self.param("start"), False)
        self.size = self.initial_size()
        self.waiter: ExitWaiter | None = None
        self.stdin = StdinConfig(open_stdin=False, stdin_once=False)
        self.running = False
        self.started_container = False
        # Closed while a `start` message is handled, so that `started` comes before the output it causes.
        self.output_gate = asyncio.Event()
        self.output_gate.set()

    @property
    def tty(self) -> bool:
        return self.container is not None and self.container.tty

    async def open_session(self) -> None:
        assert self.container is not None
        container_id = self.container.id
        attach = await database_sync_to_async(admit)(self.who, self.host, attach_request(container_id))
        self.stdin = await StdinConfig.inspect(self.client, self.target, container_id)
        self.running = self.container.running
        self.connection = await AttachConnection.attach(self.target, attach, self.container.tty)
        self.waiter = await ExitWaiter.register(self.client, self.target, container_id)
        if self.start_requested:
            await self.start_process()

    async def session_ready(self) -> None:
        assert self.container is not None
        if self.running and not self.start_requested:  # (a start sized the terminal already)
            await self.apply_size()
        await self.send_json(
            {
                "type": "ready",
                "container": {"id": self.container.id, "name": self.container.name},
                "tty": self.tty,
                "stdin": self.stdin.open_stdin,
                # eof closes the process's stdin with StdinOnce (`docker run -i`), else it ends the attach
                "stdin_once": self.stdin.stdin_once,
                "stream_prefix": not self.tty,
                "running": self.running,
                "started": self.started_container,
            }
        )

    async def send_output(self, pieces: list[tuple[int, bytes]]) -> None:
        await self.output_gate.wait()
        if self.tty:
            await super().send_output(pieces)
            return
        for stream, piece in pieces:
            await self.send(bytes_data=bytes((stream,)) + piece)

    async def output_ended(self, connection: HijackedConnection) -> None:
        """The engine ended the stream: the exit code when the process ended, else a detach; then close."""
        assert self.container is not None
        name = self.container.name
        waiter, self.waiter = self.waiter, None
        try:
            code = await waiter.exit_code(EXIT_WAIT) if waiter is not None else None
            state = None
            if code is None:  # it did not exit (or exited before the wait was registered): ask
                try:
                    info = await inspect_container(self.client, self.target, self.container.id)
                except NotFound:
                    info = None
                if info is not None and info.running:
                    message = f"The engine ended the stream; container {name!r} is still running."
                    await self.send_json({"type": "detached", "message": message})
                    await self.audit(Outcome.SUCCESS, "the engine ended the stream; the container is running")
                    await self.finish()
                    return
                code = info.exit_code if info is not None else None
                state = "removed" if info is None else info.status
        except EngineError as exc:
            await self.audit(Outcome.FAILURE, f"the stream ended; the exit code is unknown: {exc}")
            raise
        await self.send_json({"type": "exit", "code": code})
        await self.audit(Outcome.SUCCESS, f"exit code {code}" + (f" (container {state})" if state else ""))
        await self.finish()

    async def resize(self, rows: int, cols: int) -> None:
        if not self.tty:
            raise ValueError(
                f"Container {self.container.name if self.container else ''!r} has no terminal "
                "(it was created without tty) to resize."
            )
        self.size = (rows, cols)
        if self.running:
            await resize_container(
                self.client, self.target, self.container.id if self.container else "", rows, cols
            )

    async def hang_up(self, connection: HijackedConnection) -> None:
        """The browser left: detach (the container goes on), and say in the audit how it was left."""
        assert isinstance(connection, AttachConnection)
        await connection.detach()
        try:
            info = await inspect_container(
                self.client, self.target, self.container.id if self.container else ""
            )
            state = "still running" if info.running else info.status
        except EngineError as exc:
            state = f"in an unknown state ({exc})"
        await self.audit(Outcome.SUCCESS, f"detached by the client; the container is {state}")

    def audit_body(self) -> dict[str, Any]:
        return {**{key: True for key in ATTACH_QUERY}, "start": self.start_requested}

    async def cleanup(self) -> None:
        waiter, self.waiter = getattr(self, "waiter", None), None
        if waiter is not None:
            await waiter.aclose()
        await super().cleanup()

    # Starting

    async def on_start(self, content: dict[str, Any]) -> None:
        if self.connection is None:
            raise ValueError("The session has ended.")
        if self.running:
            raise ValueError("The container is already running.")
        self.output_gate.clear()
        try:
            await self.start_process()
            await self.send_json({"type": "started"})
        except (AccessDenied, policy.Denied) as exc:
            raise ValueError(str(exc)) from None
        finally:
            self.output_gate.set()

    async def start_process(self) -> None:
        """Start the attached container (admitted and audited like a REST start), then size its terminal."""
        assert self.container is not None
        container_id = self.container.id
        began = time.monotonic()
        try:
            start = EngineRequest.build("POST", "/containers/{container}/start", container_id)
            admitted = await database_sync_to_async(admit)(self.who, self.host, start)
            started = await start_container(self.client, self.target, admitted)
        except (AccessDenied, policy.Denied, EngineError) as exc:
            denied = isinstance(exc, (AccessDenied, policy.Denied))
            await self._audit_start(Outcome.DENIED if denied else Outcome.FAILURE, str(exc), began)
            raise
        await self._audit_start(Outcome.SUCCESS, "" if started else "it was already running", began)
        self.running, self.started_container = True, started
        await self.apply_size()

    async def apply_size(self) -> None:
        # Best effort: a process that ended at once has no terminal left to size, and that is no failure.
        if self.size is not None and self.container is not None and self.tty:
            with contextlib.suppress(EngineError):
                await resize_container(self.client, self.target, self.container.id, *self.size)

    async def _audit_start(self, outcome: Outcome, detail: str, began: float) -> None:
        assert self.container is not None
        await database_sync_to_async(audit.record)(
            who=self.who,
            entry_point=EntryPoint.WEBSOCKET,
            action="container.start",
            outcome=outcome,
            host=self.host,
            method="POST",
            path=f"/containers/{self.container.id}/start",
            object_id=self.container.id,
            object_name=self.container.name,
            detail=detail,
            duration_ms=round((time.monotonic() - began) * 1000, 1),
            source_ip=(self.scope.get("client") or [None])[0],
        )
