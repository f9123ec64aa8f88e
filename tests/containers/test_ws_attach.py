"""Attach sessions over websockets against a real engine: `run -it` in the browser (REST create, then attach
and start), stdin and separated stdout/stderr without a TTY, resize, detaching, access and the audit log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from docker.models.containers import Container
from rest_framework.test import APIClient

from hosts.models import AuditEntry, Host, Role
from tests.containers.test_ws_support import (
    IMAGE,
    Docker,
    connect,
    engine,
    expect_close,
    owned_by,
    receive,
    receive_json,
    refused,
    run,
    token_for,
    user_with_role,
)
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)

STDOUT, STDERR = 1, 2


def attach_path(host: Host, container: str, query: str = "") -> str:
    return f"/ws/hosts/{host.pk}/containers/{container}/attach/" + (f"?{query}" if query else "")


def created(d: Docker, command: list[str], *, tty: bool, stdin_once: bool = True, **kw: Any) -> Container:
    """A container that is created, not started, with stdin open (StdinOnce as `docker run -i` sets it)."""
    name = f"dwtest-ws-{d.tag}-{len(d.created)}"
    api = d.client.api
    config = api.create_container(
        IMAGE, command, name=name, tty=tty, stdin_open=True, detach=not stdin_once, **kw
    )
    container = d.client.containers.get(config["Id"])
    d.created.append(container)
    return container


async def terminal_until(ws: Any, marker: bytes, timeout: float = 10.0) -> bytes:
    """Raw terminal output until `marker` shows up."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        frame = await receive(ws, max(0.1, deadline - time.monotonic()))
        assert isinstance(frame, bytes), f"expected output, got {frame}; output so far {data!r}"
        data += frame
    return data


async def streams_until(
    ws: Any, done: Callable[[dict[int, bytes]], bool], timeout: float = 10.0
) -> dict[int, bytes]:
    """Output of a session without a TTY, by stream (each frame starts with its stream's number)."""
    out = {STDOUT: b"", STDERR: b""}
    deadline = time.monotonic() + timeout
    while not done(out):
        frame = await receive(ws, max(0.1, deadline - time.monotonic()))
        assert isinstance(frame, bytes), f"expected output, got {frame}; output so far {out!r}"
        assert frame[0] in out, f"unknown stream {frame[0]} in {frame!r}"
        out[frame[0]] += frame[1:]
    return out


async def next_message(ws: Any) -> dict[str, Any]:
    """The next JSON message, past any output still on its way."""
    while not isinstance(frame := await receive(ws), dict):
        pass
    return frame


def state_of(d: Docker, container: Container) -> dict[str, Any]:
    container.reload()
    state: dict[str, Any] = container.attrs["State"]
    return state


def test_run_it_in_the_browser_creates_then_attaches_and_starts(
    unix_host: Host, alice: User, docker1: Docker, client_for: Callable[[User | None], APIClient]
) -> None:
    name = f"dwtest-ws-{docker1.tag}-it"
    response = client_for(alice).post(
        f"/api/v1/hosts/{unix_host.pk}/containers/",
        {"image": IMAGE, "name": name, "command": "sh", "tty": True, "stdin_open": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    container = docker1.client.containers.get(name)
    docker1.created.append(container)
    assert container.status == "created"
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, name, "start=1&cols=120&rows=40"), token)
        ready = await receive_json(ws)
        assert ready["type"] == "ready" and ready["container"] == {"id": container.id, "name": name}
        assert ready["tty"] is True and ready["stdin"] is True and ready["stream_prefix"] is False
        assert ready["started"] is True and ready["running"] is True
        await ws.send_bytes_to(b"echo hi\n")
        assert b"\r\nhi\r\n" in await terminal_until(ws, b"\r\nhi\r\n")  # the terminal's own line endings
        await ws.send_bytes_to(b"stty size\n")
        await terminal_until(ws, b"40 120")  # sized as soon as it started
        await ws.send_bytes_to(b"exit 3\n")
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 3}
        await ws.disconnect()

    run(scenario)
    state = state_of(docker1, container)
    assert state["Status"] == "exited" and state["ExitCode"] == 3
    session = AuditEntry.objects.get(action="container.attach")
    assert session.outcome == "success" and session.entry_point == "ws" and session.username == "alice"
    assert session.object_id == container.id and session.object_name == name
    assert session.detail == "exit code 3" and session.duration_ms is not None and session.duration_ms > 0
    assert session.request_body is not None and session.request_body["start"] is True
    start = AuditEntry.objects.get(action="container.start")
    assert start.outcome == "success" and start.entry_point == "ws" and start.object_id == container.id


def test_without_a_tty_stdin_reaches_the_process_and_stdout_and_stderr_stay_apart(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    # Output printed the moment it starts: attaching before the start loses none of it.
    script = "echo early-out; echo early-err >&2; cat; echo bye >&2; exit 5"
    container = created(docker1, ["sh", "-c", script], tty=False)
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, container.name, "start=1"), token)
        ready = await receive_json(ws)
        assert ready["type"] == "ready" and ready["tty"] is False and ready["stream_prefix"] is True
        out = await streams_until(ws, lambda o: b"early-out\n" in o[STDOUT] and b"early-err\n" in o[STDERR])
        assert out == {STDOUT: b"early-out\n", STDERR: b"early-err\n"}
        await ws.send_bytes_to(b"ping\n")
        await ws.send_json_to({"type": "input", "data": "pong\n"})
        out = await streams_until(ws, lambda o: b"pong\n" in o[STDOUT])
        assert out == {STDOUT: b"ping\npong\n", STDERR: b""}
        # Without a terminal there is nothing to resize, said without ending the session.
        await ws.send_json_to({"type": "resize", "cols": 80, "rows": 24})
        error = await next_message(ws)
        assert error["type"] == "error" and "no terminal" in error["message"]
        # End of input: cat ends, the script goes on to its exit code (StdinOnce, as `docker run -i`).
        await ws.send_json_to({"type": "eof"})
        out = await streams_until(ws, lambda o: b"bye\n" in o[STDERR])
        assert out == {STDOUT: b"", STDERR: b"bye\n"}
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 5}
        await ws.disconnect()

    run(scenario)
    assert AuditEntry.objects.get(action="container.attach").detail == "exit code 5"


def test_eof_without_stdin_once_ends_only_the_attach(unix_host: Host, alice: User, docker1: Docker) -> None:
    # Created the way the REST API creates with stdin_open (StdinOnce false): stdin stays open for the next
    # client, so the engine answers end of input by ending this attach, and the process goes on.
    container = created(docker1, ["cat"], tty=False, stdin_once=False)
    container.start()
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, container.name), token)
        ready = await receive_json(ws)
        assert ready["stdin"] is True and ready["stdin_once"] is False
        await ws.send_bytes_to(b"echo-me\n")
        await streams_until(ws, lambda o: b"echo-me\n" in o[STDOUT])
        await ws.send_json_to({"type": "eof"})
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1]["type"] == "detached"
        assert container.name in messages[-1]["message"] and "still running" in messages[-1]["message"]
        await ws.disconnect()

    run(scenario)
    assert state_of(docker1, container)["Running"]
    entry = AuditEntry.objects.get(action="container.attach")
    assert entry.detail == "the engine ended the stream; the container is running"


def test_a_terminal_can_be_resized(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = created(docker1, ["sh"], tty=True)
    container.start()
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, container.name, "cols=100&rows=30"), token)
        ready = await receive_json(ws)
        assert ready["running"] is True and ready["started"] is False
        await ws.send_bytes_to(b"stty size\r")
        await terminal_until(ws, b"30 100")
        await ws.send_json_to({"type": "resize", "cols": 132, "rows": 43})
        await ws.send_bytes_to(b"stty size\r")
        await terminal_until(ws, b"43 132")
        await ws.send_json_to({"type": "resize", "cols": 0, "rows": 43})
        error = await next_message(ws)
        assert error["type"] == "error" and "cols must be between 1 and 1000" in error["message"]
        await ws.disconnect()

    run(scenario)


def test_closing_the_socket_detaches_and_the_container_goes_on(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = created(docker1, ["sh"], tty=True)
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, container.name, "start=1"), token)
        assert (await receive_json(ws))["type"] == "ready"
        await ws.send_bytes_to(b"KEPT=still-$((40 + 2))\r")
        await ws.send_bytes_to(b"echo set\r")
        await terminal_until(ws, b"\r\nset\r\n")
        await ws.disconnect()
        await asyncio.sleep(0.3)
        assert (await asyncio.to_thread(state_of, docker1, container))["Running"]
        # The same shell, attached again: what the first session set is still there.
        ws = await connect(attach_path(unix_host, container.name), token)
        ready = await receive_json(ws)
        assert ready["running"] is True and ready["started"] is False
        await ws.send_bytes_to(b"echo $KEPT\r")
        await terminal_until(ws, b"still-42")
        await ws.disconnect()

    run(scenario)
    assert state_of(docker1, container)["Running"]
    details = [e.detail for e in AuditEntry.objects.filter(action="container.attach").order_by("pk")]
    assert details == ["detached by the client; the container is still running"] * 2
    assert AuditEntry.objects.filter(action="container.start").count() == 1


def test_a_start_message_starts_a_container_attached_before(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = created(docker1, ["sh", "-c", "echo from-the-start"], tty=False)
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(attach_path(unix_host, container.name), token)
        ready = await receive_json(ws)
        assert ready["running"] is False and ready["started"] is False
        await ws.send_json_to({"type": "start"})
        assert await receive(ws) == {"type": "started"}
        await streams_until(ws, lambda o: b"from-the-start\n" in o[STDOUT])
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 0}
        await ws.disconnect()

    run(scenario)


def test_attach_needs_operator_on_a_container_the_caller_owns(unix_host: Host, docker1: Docker) -> None:
    vera = user_with_role("vera", unix_host, Role.VIEWER)
    olga = user_with_role("olga", unix_host, Role.OPERATOR, team="red")
    oscar = user_with_role("oscar", unix_host, Role.OPERATOR, team="blue")
    veras = docker1.run("sleep 60", labels=owned_by("vera"))
    reds = docker1.run("sleep 60", labels=owned_by("carol", "red"))
    tokens = {user.username: token_for(user) for user in (vera, olga, oscar)}

    async def scenario() -> None:
        # A viewer sees her container but may not attach to it, nor start it that way.
        code, message = await refused(attach_path(unix_host, veras.name, "start=1"), tokens["vera"])
        assert code == 4403 and "viewer" in message and "operator" in message
        # Another team's operator does not even see the container; a missing one looks the same.
        code, message = await refused(attach_path(unix_host, reds.name), tokens["oscar"])
        assert code == 4404 and reds.name in message
        code, message = await refused(attach_path(unix_host, f"nope-{docker1.tag}"), tokens["olga"])
        assert code == 4404 and f"nope-{docker1.tag}" in message and unix_host.name in message
        # The owning team's operator may.
        ws = await connect(attach_path(unix_host, reds.name), tokens["olga"])
        assert (await receive_json(ws))["type"] == "ready"
        await ws.disconnect()

    run(scenario)
    audit = {(e.username, e.outcome) for e in AuditEntry.objects.filter(action="container.attach")}
    assert audit == {("vera", "denied"), ("oscar", "denied"), ("olga", "denied"), ("olga", "success")}


def test_paused_containers_and_bad_parameters_are_refused(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run("sleep 60")
    container.pause()
    token = token_for(alice)

    async def scenario() -> None:
        code, message = await refused(attach_path(unix_host, container.name, "start=maybe"), token)
        assert code == 4400 and "maybe" in message
        code, message = await refused(attach_path(unix_host, container.name, "cols=80&rows=0"), token)
        assert code == 4400 and "rows" in message
        code, message = await refused(attach_path(unix_host, container.name), token)
        assert code == 4409 and "paused" in message

    run(scenario)
    container.unpause()


def test_attach_works_over_tls(tls_host: Host, alice: User, testbed: Testbed) -> None:
    token = token_for(alice)

    async def scenario() -> None:
        with engine(testbed.engine2.unix_url) as docker2:
            container = await asyncio.to_thread(created, docker2, ["sh"], tty=True)
            ws = await connect(attach_path(tls_host, container.name, "start=1&cols=90&rows=20"), token)
            assert (await receive_json(ws))["started"] is True
            await ws.send_bytes_to(b"echo over-$((6 * 7)); stty size\r")
            await terminal_until(ws, b"20 90")
            await ws.send_bytes_to(b"exit 7\r")
            code, messages = await expect_close(ws)
            assert code == 1000 and messages[-1] == {"type": "exit", "code": 7}
            await ws.disconnect()

    run(scenario)
