"""What the exec console and attach sessions share: a process in a container on a hijacked engine connection,
its output as binary frames, stdin from binary frames or `input` messages, `resize` and `eof` messages, and
one audit row per session (who, container, outcome, duration), refused attempts included."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from channels.db import database_sync_to_async

from containers.consumers.base import EngineConsumer
from containers.streams import ContainerInfo
from containers.streams.hijack import HijackedConnection
from hosts import access, audit, policy
from hosts.access import AccessDenied, Action, Caller
from hosts.engine import EngineError, async_client
from hosts.live import CloseCode, Reject, rejection
from hosts.models import EntryPoint, Outcome

MAX_TERMINAL = 1000  # columns or rows


def terminal_size(value: Any, name: str) -> int:
    """A terminal's columns or rows from a query parameter or a message; ValueError for the user."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ValueError(f"{name} must be a whole number.")
    size = int(value)
    if not 1 <= size <= MAX_TERMINAL:
        raise ValueError(f"{name} must be between 1 and {MAX_TERMINAL}.")
    return size


class TerminalConsumer(EngineConsumer):
    """Base of a session with one process in a container; subclasses open it and say how it ends."""

    client_messages: ClassVar[frozenset[str]] = frozenset({"resize", "input", "eof"})
    verb: ClassVar[str]  # "exec" or "attach": the audit action (container.<verb>) and the engine path

    connection: HijackedConnection | None
    container: ContainerInfo | None

    async def start(self) -> None:
        self.connection = None
        self.container = None
        self.audited = False
        self.started = time.monotonic()
        self.parse()
        try:
            await self.resolve_host(Action.VIEW)
            self.client = async_client(self.target)
            ref = str(self.scope["url_route"]["kwargs"]["container"])
            self.container = await self.resolve_container(self.client, ref)
            await self.open_session()
        except (Reject, AccessDenied, policy.Denied, EngineError) as exc:
            # Every attempt is audited, refused ones too (an unknown container counts as refused).
            reject = rejection(exc)
            denied = reject.code in (CloseCode.FORBIDDEN, CloseCode.NOT_FOUND)
            await self.audit(Outcome.DENIED if denied else Outcome.FAILURE, reject.message)
            raise
        await self.session_ready()
        self.spawn(self.relay_output(), name=f"{self.verb} {self.container.id[:12]}")

    # What subclasses say

    def parse(self) -> None:
        """Read the query parameters (ValueError: 4400, before anything is done or audited)."""

    async def open_session(self) -> None:
        """Admit the session and set `self.connection` (refusals and failures are audited by the caller)."""
        raise NotImplementedError

    async def session_ready(self) -> None:
        """The connection is up: apply the terminal size, send `ready`."""
        raise NotImplementedError

    async def send_output(self, pieces: list[tuple[int, bytes]]) -> None:
        """Output to the browser: stdout and stderr together, as a terminal shows them."""
        await self.send(bytes_data=b"".join(piece for _stream, piece in pieces))

    async def output_ended(self, connection: HijackedConnection) -> None:
        """The engine ended the output (the process ended): report how, audit, close."""
        raise NotImplementedError

    async def resize(self, rows: int, cols: int) -> None:
        raise NotImplementedError

    async def hang_up(self, connection: HijackedConnection) -> None:
        """The browser left while the session was open: end our side of it, and audit."""
        await connection.close()
        await self.audit(Outcome.SUCCESS, "closed by the client")

    def audit_body(self) -> dict[str, Any]:
        return {}

    # Shared

    def initial_size(self) -> tuple[int, int] | None:
        """(rows, cols) from the query, when both are given."""
        cols, rows = self.param("cols"), self.param("rows")
        if cols and rows:
            return terminal_size(rows, "rows"), terminal_size(cols, "cols")
        return None

    async def relay_output(self) -> None:
        """Engine → browser until the output ends; then the subclass reports the end."""
        connection = self.connection
        assert connection is not None
        while pieces := await connection.read_pieces():
            await self.send_output(pieces)
        self.connection = None  # the process ended: nothing to hang up on any more
        await connection.close()
        await self.output_ended(connection)

    # Client messages

    async def receive_bytes(self, data: bytes) -> None:
        if self.connection is not None and data:
            await self.connection.write(data)

    async def on_input(self, content: dict[str, Any]) -> None:
        if not isinstance(content.get("data"), str):
            raise ValueError("input needs data as a string.")
        await self.receive_bytes(content["data"].encode())

    async def on_resize(self, content: dict[str, Any]) -> None:
        cols = terminal_size(content.get("cols"), "cols")
        rows = terminal_size(content.get("rows"), "rows")
        await self.resize(rows, cols)

    async def on_eof(self, content: dict[str, Any]) -> None:
        if self.connection is not None and not self.connection.close_stdin():
            raise ValueError(f"The connection to host {self.host.name!r} (TLS) cannot close stdin alone.")

    # End of session

    def still_allowed(self, who: Caller) -> None:
        """The host, and exec rights on this container (the role and ownership admission checked)."""
        super().still_allowed(who)
        if self.container is not None:
            access.may_act_on(who, self.host, self.container.labels, Action.EXEC)

    async def access_ended(self, reject: Reject) -> None:
        # The session's one audit row says why it ended (the hang-up that follows finds it written).
        await self.audit(Outcome.DENIED, f"ended by dockerweb: {reject.message}")
        await super().access_ended(reject)

    async def audit(self, outcome: Outcome, detail: str) -> None:
        """One audit row per session: who, container, what, outcome, duration."""
        if self.audited:
            return
        self.audited = True
        container = self.container
        await database_sync_to_async(audit.record)(
            who=self.who,
            entry_point=EntryPoint.WEBSOCKET,
            action=f"container.{self.verb}",
            outcome=outcome,
            host=getattr(self, "host", None),
            method="POST",
            path=f"/containers/{container.id if container else ''}/{self.verb}",
            object_id=container.id if container else "",
            object_name=container.name if container else "",
            body=self.audit_body(),
            detail=detail,
            duration_ms=round((time.monotonic() - self.started) * 1000, 1),
            source_ip=(self.scope.get("client") or [None])[0],
        )

    async def cleanup(self) -> None:
        connection, self.connection = getattr(self, "connection", None), None
        if connection is not None:
            await self.hang_up(connection)
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()
