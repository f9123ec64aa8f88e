"""Exec consoles over websockets against a real engine: stdin/stdout, terminal and resize, exit codes,
missing commands, the end of a session, and the audit log."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from django.contrib.auth.models import User

from hosts.models import AuditEntry, Host
from tests.containers.test_ws_support import (
    Docker,
    connect,
    engine,
    expect_close,
    receive,
    receive_json,
    run,
    token_for,
)
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)


def exec_path(host: Host, container: str, query: str) -> str:
    return f"/ws/hosts/{host.pk}/containers/{container}/exec/?{query}"


async def output_until(ws: Any, marker: bytes, timeout: float = 10.0) -> bytes:
    """Binary output until `marker` shows up (JSON messages on the way are not expected)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        frame = await receive(ws, max(0.1, deadline - time.monotonic()))
        assert isinstance(frame, bytes), f"expected output, got {frame}; output so far {data!r}"
        data += frame
    return data


def test_it_relays_stdin_and_stdout_and_reports_the_exit_code(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run("sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=sh&tty=0&env=GREETING=hello"), token)
        ready = await receive(ws)
        assert isinstance(ready, dict) and ready["type"] == "ready" and ready["cmd"] == ["sh"]
        await ws.send_bytes_to(b"echo oops >&2; sleep 0.1; echo $GREETING-$((1 + 2))\n")
        assert b"oops" in await output_until(ws, b"hello-3")  # stderr too, in the same binary frames
        await ws.send_json_to({"type": "input", "data": "exit 3\n"})
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 3}
        await ws.disconnect()

    run(scenario)
    entry = AuditEntry.objects.get(action="container.exec")
    assert entry.outcome == "success" and entry.entry_point == "ws" and entry.username == "alice"
    assert entry.object_name == container.name and entry.object_id == container.id
    assert entry.request_body is not None and entry.request_body["Cmd"] == ["sh"]
    assert entry.detail == "exit code 3" and entry.duration_ms is not None and entry.duration_ms > 0


def test_a_terminal_session_can_be_resized(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=sh&tty=1&cols=100&rows=30"), token)
        assert (await receive_json(ws))["type"] == "ready"
        await ws.send_bytes_to(b"stty size\r")
        assert b"30 100" in await output_until(ws, b"30 100")
        await ws.send_json_to({"type": "resize", "cols": 132, "rows": 43})
        await ws.send_bytes_to(b"stty size; exit 0\r")
        assert b"43 132" in await output_until(ws, b"43 132")
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 0}
        await ws.disconnect()

    run(scenario)


def test_a_missing_command_gets_a_clear_message(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=bash"), token)
        code, messages = await expect_close(ws)
        errors = [m["message"] for m in messages if m["type"] == "error"]
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 126}
        assert len(errors) == 1 and "Command 'bash' could not be started" in errors[0]
        assert container.name in errors[0] and "Try cmd=sh" in errors[0] and "not found" in errors[0]
        await ws.disconnect()

    run(scenario)
    entry = AuditEntry.objects.get(action="container.exec")
    assert entry.outcome == "failure" and entry.detail == "exit code 126"


def test_closing_the_socket_ends_the_session(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("sleep 60")
    token = token_for(alice)
    exec_ids: list[str] = []

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=sh&tty=1"), token)
        ready = await receive(ws)
        assert isinstance(ready, dict)
        exec_ids.append(ready["exec_id"])
        await ws.send_bytes_to(b"echo still-here\r")
        await output_until(ws, b"still-here")
        await ws.disconnect()

    run(scenario)
    api = docker1.client.api
    deadline = time.monotonic() + 5
    while api.exec_inspect(exec_ids[0])["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not api.exec_inspect(exec_ids[0])["Running"]
    entry = AuditEntry.objects.get(action="container.exec")
    assert entry.outcome == "success" and entry.detail == "closed by the client"


def test_exec_into_a_stopped_container_is_refused(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("true")
    container.wait(timeout=10)
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=sh"), token)
        code, messages = await expect_close(ws)
        assert code == 4409 and "is not running" in messages[-1]["message"]
        await ws.disconnect()
        await asyncio.sleep(0)

    run(scenario)
    assert AuditEntry.objects.get(action="container.exec").outcome == "failure"


def test_exec_works_over_tls(tls_host: Host, alice: User, testbed: Testbed) -> None:
    token = token_for(alice)

    async def scenario() -> None:
        with engine(testbed.engine2.unix_url) as docker2:
            container = await asyncio.to_thread(docker2.run, "sleep 60")
            ws = await connect(exec_path(tls_host, container.name, "cmd=sh&tty=0"), token)
            assert (await receive_json(ws))["type"] == "ready"
            await ws.send_bytes_to(b"echo over-$((6 * 7))\n")
            await output_until(ws, b"over-42")
            # asyncio's TLS transport cannot half-close: said so, and the session goes on.
            await ws.send_json_to({"type": "eof"})
            error = await receive(ws)
            assert isinstance(error, dict) and "cannot close stdin" in error["message"]
            await ws.send_bytes_to(b"exit 7\n")
            code, messages = await expect_close(ws)
            assert code == 1000 and messages[-1] == {"type": "exit", "code": 7}
            await ws.disconnect()

    run(scenario)


def test_eof_ends_a_command_reading_stdin(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(exec_path(unix_host, container.name, "cmd=wc%20-l&tty=0"), token)
        assert (await receive_json(ws))["type"] == "ready"
        await ws.send_bytes_to(b"one\ntwo\nthree\n")
        await ws.send_json_to({"type": "eof"})
        assert (await output_until(ws, b"\n")).strip() == b"3"
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 0}
        await ws.disconnect()

    run(scenario)
