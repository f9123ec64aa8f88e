"""Exec console: `ws/hosts/<host_id>/containers/<container>/exec/?cmd=sh&user=&workdir=&env=K=V&tty=1`.

Binary frames carry the terminal both ways. Text frames are JSON: client → server `resize` (cols, rows),
`input` (data as text), `eof` (end of stdin); server → client `ready`, `exit` (code) and `error`. The exec
is created through `hosts.admission.admit` (role, ownership, policy) and every session is audited.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any, ClassVar

from channels.db import database_sync_to_async

from containers.consumers.base import CloseCode, EngineConsumer, Reject, rejection
from containers.streams import (
    ContainerInfo,
    ExecConnection,
    ExecRequest,
    as_bool,
    create_exec,
    exit_code,
    resize_exec,
)
from hosts import audit, policy
from hosts.access import AccessDenied, Action
from hosts.admission import admit
from hosts.engine import EngineError, async_client
from hosts.models import EntryPoint, Outcome

MAX_TERMINAL = 1000  # columns or rows


def _request(params: dict[str, str], env: list[str]) -> ExecRequest:
    try:
        cmd = shlex.split(params.get("cmd") or "sh")
    except ValueError as exc:
        raise ValueError(f"cmd cannot be parsed: {exc}.") from None
    if not cmd:
        raise ValueError("cmd is empty.")
    bad = [entry for entry in env if "=" not in entry or entry.startswith("=")]
    if bad:
        raise ValueError(f"env entries are NAME=value; got {bad[0]!r}.")
    return ExecRequest(
        cmd=cmd,
        user=params.get("user", ""),
        workdir=params.get("workdir", ""),
        env=env,
        tty=as_bool(params.get("tty"), True),
        privileged=as_bool(params.get("privileged"), False),
    )


def _size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ValueError(f"{name} must be a whole number.")
    size = int(value)
    if not 1 <= size <= MAX_TERMINAL:
        raise ValueError(f"{name} must be between 1 and {MAX_TERMINAL}.")
    return size


class ExecConsumer(EngineConsumer):
    """An interactive exec session in one container."""

    client_messages: ClassVar[frozenset[str]] = frozenset({"resize", "input", "eof"})

    async def start(self) -> None:
        self.connection: ExecConnection | None = None
        self.container: ContainerInfo | None = None
        self.exec_id = ""
        self.audited = False
        self.started = time.monotonic()
        self.request = _request(self.params(), self.query.get("env", []))
        try:
            await self.resolve_host(Action.VIEW)
            self.client = async_client(self.target)
            ref = str(self.scope["url_route"]["kwargs"]["container"])
            self.container = await self.resolve_container(self.client, ref)
            body = json.dumps(self.request.body()).encode()
            path = f"/containers/{self.container.id}/exec"
            forwarded = await database_sync_to_async(admit)(
                self.who, self.host, "POST", path, {}, "application/json", body
            )
            self.exec_id = await create_exec(self.client, self.target, self.container.id, forwarded or body)
            self.connection = await ExecConnection.start(self.target, self.exec_id, self.request.tty)
        except (Reject, AccessDenied, policy.Denied, EngineError) as exc:
            # Every attempt is audited, refused ones too (an unknown container counts as refused).
            reject = rejection(exc)
            denied = reject.code in (CloseCode.FORBIDDEN, CloseCode.NOT_FOUND)
            await self.audit(Outcome.DENIED if denied else Outcome.FAILURE, reject.message)
            raise
        cols, rows = self.param("cols"), self.param("rows")
        if cols and rows and self.request.tty:
            await resize_exec(
                self.client, self.target, self.exec_id, _size(rows, "rows"), _size(cols, "cols")
            )
        await self.send_json(
            {
                "type": "ready",
                "exec_id": self.exec_id,
                "container": {"id": self.container.id, "name": self.container.name},
                "cmd": self.request.cmd,
                "tty": self.request.tty,
            }
        )
        self.spawn(self.relay_output(), name=f"exec {self.exec_id[:12]}")

    async def relay_output(self) -> None:
        """Engine → browser until the command ends; then the exit code, and close."""
        connection = self.connection
        assert connection is not None and self.container is not None
        while data := await connection.read():
            await self.send(bytes_data=data)
        self.connection = None  # the command ended: nothing to hang up on any more
        await connection.close()
        code = await exit_code(self.client, self.target, self.exec_id)
        missing = code in (126, 127) and connection.command_missing()
        if missing:
            said = bytes(connection.head).decode("utf-8", "replace").strip()
            await self.send_error(
                f"Command {self.request.cmd[0]!r} could not be started in container "
                f"{self.container.name!r} on host {self.host.name!r}: is it installed there? Try cmd=sh. "
                f"The engine said: {said}"
            )
        await self.send_json({"type": "exit", "code": code})
        await self.audit(Outcome.FAILURE if missing else Outcome.SUCCESS, f"exit code {code}")
        await self.finish()

    # Client messages

    async def receive_bytes(self, data: bytes) -> None:
        if self.connection is not None and data:
            await self.connection.write(data)

    async def on_input(self, content: dict[str, Any]) -> None:
        if not isinstance(content.get("data"), str):
            raise ValueError("input needs data as a string.")
        await self.receive_bytes(content["data"].encode())

    async def on_resize(self, content: dict[str, Any]) -> None:
        if not self.request.tty:
            raise ValueError("This session has no terminal (tty=0) to resize.")
        cols, rows = _size(content.get("cols"), "cols"), _size(content.get("rows"), "rows")
        await resize_exec(self.client, self.target, self.exec_id, rows, cols)

    async def on_eof(self, content: dict[str, Any]) -> None:
        if self.connection is not None and not self.connection.close_stdin():
            raise ValueError(f"The connection to host {self.host.name!r} (TLS) cannot close stdin alone.")

    # End of session

    async def audit(self, outcome: Outcome, detail: str) -> None:
        """One audit row per session: who, container, command, outcome, duration."""
        if self.audited:
            return
        self.audited = True
        container = self.container
        await database_sync_to_async(audit.record)(
            who=self.who,
            entry_point=EntryPoint.WEBSOCKET,
            action="container.exec",
            outcome=outcome,
            host=getattr(self, "host", None),
            method="POST",
            path=f"/containers/{container.id if container else ''}/exec",
            object_id=container.id if container else "",
            object_name=container.name if container else "",
            body=self.request.body(),
            detail=detail,
            duration_ms=round((time.monotonic() - self.started) * 1000, 1),
            source_ip=(self.scope.get("client") or [None])[0],
        )

    async def cleanup(self) -> None:
        connection, self.connection = getattr(self, "connection", None), None
        if connection is not None:
            await connection.hang_up()
            # The engine has no way to kill an exec: say in the audit when the command outlived the session.
            try:
                code = await exit_code(self.client, self.target, self.exec_id, wait=1.0)
                outlived = "" if code is not None else "; the command was still running"
            except EngineError as exc:
                outlived = f"; its state is unknown ({exc})"
            await self.audit(Outcome.SUCCESS, f"closed by the client{outlived}")
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()
