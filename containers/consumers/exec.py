"""Exec console: `ws/hosts/<host_id>/containers/<container>/exec/?cmd=sh&user=&workdir=&env=K=V&tty=1`.

Binary frames carry the terminal both ways. Text frames are JSON: client → server `resize` (cols, rows),
`input` (data as text), `eof` (end of stdin); server → client `ready`, `exit` (code) and `error`. The exec
is created through `hosts.admission.admit` (role, ownership, policy) and every session is audited
(containers.consumers.terminal).
"""

from __future__ import annotations

import json
import shlex
from typing import Any, ClassVar

from channels.db import database_sync_to_async

from containers.consumers.terminal import TerminalConsumer
from containers.streams import ExecConnection, ExecRequest, as_bool, create_exec, exit_code, resize_exec
from containers.streams.hijack import HijackedConnection
from hosts.admission import admit
from hosts.engine import EngineError
from hosts.engine.request import EngineRequest
from hosts.models import Outcome


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


class ExecConsumer(TerminalConsumer):
    """An interactive exec session in one container."""

    verb: ClassVar[str] = "exec"

    def parse(self) -> None:
        self.exec_id = ""
        self.request = _request(self.params(), self.query.get("env", []))

    async def open_session(self) -> None:
        assert self.container is not None
        body = json.dumps(self.request.body()).encode()
        create = EngineRequest.build(
            "POST",
            "/containers/{container}/exec",
            self.container.id,
            content_type="application/json",
            body=body,
        )
        admitted = await database_sync_to_async(admit)(self.who, self.host, create)
        self.exec_id = await create_exec(self.client, self.target, admitted)
        self.connection = await ExecConnection.start(self.target, self.exec_id, self.request.tty)

    async def session_ready(self) -> None:
        assert self.container is not None
        size = self.initial_size()
        if size is not None and self.request.tty:
            await resize_exec(self.client, self.target, self.exec_id, *size)
        await self.send_json(
            {
                "type": "ready",
                "exec_id": self.exec_id,
                "container": {"id": self.container.id, "name": self.container.name},
                "cmd": self.request.cmd,
                "tty": self.request.tty,
            }
        )

    async def output_ended(self, connection: HijackedConnection) -> None:
        """The command ended: its exit code (explained when it could not be started), and close."""
        assert isinstance(connection, ExecConnection) and self.container is not None
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

    async def resize(self, rows: int, cols: int) -> None:
        if not self.request.tty:
            raise ValueError("This session has no terminal (tty=0) to resize.")
        await resize_exec(self.client, self.target, self.exec_id, rows, cols)

    async def hang_up(self, connection: HijackedConnection) -> None:
        assert isinstance(connection, ExecConnection)
        await connection.hang_up()
        # The engine has no way to kill an exec: say in the audit when the command outlived the session.
        try:
            code = await exit_code(self.client, self.target, self.exec_id, wait=1.0)
            outlived = "" if code is not None else "; the command was still running"
        except EngineError as exc:
            outlived = f"; its state is unknown ({exc})"
        await self.audit(Outcome.SUCCESS, f"closed by the client{outlived}")

    def audit_body(self) -> dict[str, Any]:
        return self.request.body()
