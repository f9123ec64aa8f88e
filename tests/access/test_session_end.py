"""Live sessions end when access ends, and the gateway bounds what a client holds before authenticating.

Websockets (through the real ASGI application) and gateway streams (a `manage.py gateway` process) against
the testbed's engine: a revoked token, a deactivated user, an ended browser session or a removed grant close
them within a few seconds with a clear reason; a client dribbling its request head is cut off, and one
address holding too many connections is refused.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from hosts.models import ApiToken, AuditEntry, Grant, Host, Role
from tests.conftest import wait_until, worker_database_url
from tests.containers.test_ws_support import (
    Docker,
    WebsocketCommunicator,
    application,
    communicator,
    engine,
    expect_close,
    owned_by,
    receive_json,
    run,
)
from tests.gateway.conftest import Listener, start_gateway, stop_gateway
from tests.gateway.wire import Wire
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)

# A session ends within ACCESS_RECHECK_SECONDS (2 s; for the gateway plus its 2 s auth cache). The deadlines
# below leave room for a machine under load; the time actually taken is asserted against ENDS_WITHIN.
ENDS_WITHIN = 8.0
HEAD_TIMEOUT = 2.0  # the gateway under test's DOCKERWEB_GATEWAY_HEAD_TIMEOUT
PER_ADDRESS = 4  # and its DOCKERWEB_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS
TICKING = "while true; do echo tick; sleep 0.3; done"


@pytest.fixture
def docker1(testbed: Testbed) -> Iterator[Docker]:
    with engine(testbed.engine1.unix_url) as d:
        yield d


@pytest.fixture
def host(testbed: Testbed) -> Host:
    # A name of its own per test: the gateway caches hosts by name for a moment.
    return Host.objects.create(name=f"session-end-{uuid.uuid4().hex[:8]}", url=testbed.engine1.unix_url)


@pytest.fixture
def carol(host: Host) -> User:
    """An operator of the host by a grant of her own."""
    user = User.objects.create_user(f"carol-{uuid.uuid4().hex[:6]}", password="carol-password-1")
    Grant.objects.create(user=user, host=host, role=Role.OPERATOR)
    return user


def issue(user: User) -> tuple[ApiToken, str]:
    return ApiToken.issue(user, f"session-end-{uuid.uuid4().hex[:8]}")


async def db(change: Callable[[], Any]) -> None:
    """A database change from inside a websocket scenario."""
    await sync_to_async(change)()


def logs_path(host: Host, container: str) -> str:
    return f"/ws/hosts/{host.pk}/containers/{container}/logs/?follow=1&tail=1"


def exec_path(host: Host, container: str) -> str:
    return f"/ws/hosts/{host.pk}/containers/{container}/exec/?cmd=sh&tty=1"


async def connect(path: str, token: str) -> WebsocketCommunicator:
    """A script's socket: a bearer token, no Origin (a browser's session is tested on its own)."""
    ws = communicator(path, token, origin=None)
    assert (await ws.connect(timeout=10))[0]
    return ws


async def ended_with(ws: WebsocketCommunicator, since: float) -> tuple[int | None, str]:
    """How the server closed the socket: its code and its last error message, within ENDS_WITHIN of
    `since`."""
    code, messages = await expect_close(ws, timeout=ENDS_WITHIN + 4)
    assert time.monotonic() - since < ENDS_WITHIN, f"closed only after {time.monotonic() - since:.1f}s"
    errors = [m["message"] for m in messages if m["type"] == "error"]
    assert errors, f"closed with {code} without an error message: {messages}"
    await ws.disconnect()
    return code, errors[-1]


async def open_viewer_and_console(host: Host, container: str, token: str) -> list[WebsocketCommunicator]:
    logs = await connect(logs_path(host, container), token)
    assert (await receive_json(logs))["type"] == "ready"
    console = await connect(exec_path(host, container), token)
    assert (await receive_json(console))["type"] == "ready"
    return [logs, console]


# Websockets


def test_revoking_the_token_closes_a_log_viewer_and_an_exec_console_with_4401(
    host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run(TICKING, labels=owned_by(carol.username))
    token, plaintext = issue(carol)

    async def scenario() -> None:
        sockets = await open_viewer_and_console(host, container.name, plaintext)
        await db(lambda: ApiToken.objects.filter(pk=token.pk).delete())
        revoked = time.monotonic()
        for ws in sockets:
            code, message = await ended_with(ws, revoked)
            assert code == 4401 and "token was revoked or has expired" in message

    run(scenario)
    entry = AuditEntry.objects.get(action="container.exec")
    assert entry.outcome == "denied" and "ended by dockerweb" in entry.detail and "revoked" in entry.detail


def test_deactivating_the_user_closes_their_sockets_with_4401(
    host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run(TICKING, labels=owned_by(carol.username))
    _, plaintext = issue(carol)

    async def scenario() -> None:
        sockets = await open_viewer_and_console(host, container.name, plaintext)
        await db(lambda: User.objects.filter(pk=carol.pk).update(is_active=False))
        deactivated = time.monotonic()
        for ws in sockets:
            code, message = await ended_with(ws, deactivated)
            assert code == 4401 and "was deactivated" in message

    run(scenario)


def test_a_role_below_the_session_closes_the_console_with_4403_and_a_removed_grant_the_viewer_with_4404(
    host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run(TICKING, labels=owned_by(carol.username))
    _, plaintext = issue(carol)

    async def scenario() -> None:
        logs, console = await open_viewer_and_console(host, container.name, plaintext)
        await db(lambda: Grant.objects.filter(user=carol, host=host).update(role=Role.VIEWER))
        demoted = time.monotonic()
        code, message = await ended_with(console, demoted)
        assert code == 4403 and "viewer" in message and "exec needs operator" in message
        # A viewer may still read the logs: the viewer keeps receiving lines ...
        lines = await receive_json(logs)
        while lines["type"] != "lines":
            lines = await receive_json(logs)
        # ... until no grant is left: then the host is not even visible.
        await db(lambda: Grant.objects.filter(user=carol, host=host).delete())
        code, message = await ended_with(logs, time.monotonic())
        assert code == 4404 and f"No host {host.pk} is visible to you" in message

    run(scenario)


def test_signing_out_ends_a_browser_session_socket_with_4401(
    host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run(TICKING, labels=owned_by(carol.username))
    browser = Client()
    browser.force_login(carol)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario() -> None:
        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())]
        ws = WebsocketCommunicator(application(), logs_path(host, container.name), headers)
        assert (await ws.connect(timeout=10))[0]
        assert (await receive_json(ws))["type"] == "ready"
        await db(browser.logout)
        code, message = await ended_with(ws, time.monotonic())
        assert code == 4401 and "signed out" in message

    run(scenario)


def test_revoking_the_token_closes_the_jobs_panel_with_4401(carol: User) -> None:
    token, plaintext = issue(carol)

    async def scenario() -> None:
        panel = await connect("/ws/jobs/", plaintext)
        assert (await receive_json(panel))["type"] == "jobs"
        await db(lambda: ApiToken.objects.filter(pk=token.pk).delete())
        code, message = await ended_with(panel, time.monotonic())
        assert code == 4401 and "revoked" in message

    run(scenario)


# The gateway


@pytest.fixture(scope="module")
def gateway(
    testbed: Testbed, django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Listener]:
    """A `manage.py gateway` on the test database (each test commits its own rows), with a short head
    deadline and a small per-address cap."""
    workdir = tmp_path_factory.mktemp("session-end")
    with django_db_blocker.unblock():
        env = {
            "DATABASE_URL": worker_database_url(),
            "DJANGO_SETTINGS_MODULE": "dockerweb.settings",
            "DOCKERWEB_GATEWAY_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
            "DOCKERWEB_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
        }
    listener = start_gateway(workdir, "session-end", env)
    try:
        yield listener
    finally:
        stop_gateway(listener)
        shutil.rmtree(Path(workdir), ignore_errors=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_until_closed(wire: Wire, already: bytes = b"") -> tuple[bytes, float]:
    """What the gateway sent until it closed the connection, and when it closed (monotonic)."""
    data = bytearray(already)
    wire.sock.settimeout(ENDS_WITHIN + 4)
    while True:
        try:
            chunk = wire.sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data), time.monotonic()


def test_revoking_the_token_ends_logs_follow_and_events_through_the_gateway(
    gateway: Listener, host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run(TICKING, labels=owned_by(carol.username))
    token, plaintext = issue(carol)
    prefix = f"/hosts/{host.name}/v1.41"
    with Wire(gateway.port) as logs, Wire(gateway.port) as events:
        logs.send(
            "GET", f"{prefix}/containers/{container.id}/logs?follow=1&stdout=1&tail=1", bearer(plaintext)
        )
        events.send("GET", f"{prefix}/events", bearer(plaintext))
        assert logs.head()[0] == 200 and events.head()[0] == 200
        flowing = logs.conn.trailing_data[0]
        while b"tick" not in flowing:
            flowing += logs.sock.recv(65536)
        ApiToken.objects.filter(pk=token.pk).delete()
        revoked = time.monotonic()
        for wire in (logs, events):
            _, closed = read_until_closed(wire)
            assert closed - revoked < ENDS_WITHIN
    # A new request with the token is refused as usual.
    with Wire(gateway.port) as again:
        status, reply = again.json("GET", f"{prefix}/_ping", bearer(plaintext))
    assert status == 401 and "revoked" in reply["message"]


def test_removing_the_grant_ends_a_hijacked_exec_with_a_last_line(
    gateway: Listener, host: Host, carol: User, docker1: Docker
) -> None:
    container = docker1.run("sleep 60", labels=owned_by(carol.username))
    _, plaintext = issue(carol)
    prefix = f"/hosts/{host.name}/v1.41"
    body = {"Cmd": ["sh"], "AttachStdin": True, "AttachStdout": True, "AttachStderr": True, "Tty": True}
    with Wire(gateway.port) as wire:
        status, created = wire.json(
            "POST", f"{prefix}/containers/{container.id}/exec", bearer(plaintext), body
        )
        assert status == 201, created
        upgrade = {"Connection": "Upgrade", "Upgrade": "tcp", **bearer(plaintext)}
        start = json.dumps({"Detach": False, "Tty": True}).encode()
        wire.send(
            "POST",
            f"{prefix}/exec/{created['Id']}/start",
            {**upgrade, "Content-Type": "application/json"},
            start,
        )
        assert wire.head()[0] == 101
        already, _ = wire.raw_rest()
        wire.sock.sendall(b"echo still-$((40 + 2))\r")
        seen = bytearray(already)
        while b"still-42" not in seen:
            seen += wire.sock.recv(65536)
        Grant.objects.filter(user=carol, host=host).delete()
        removed = time.monotonic()
        rest, closed = read_until_closed(wire)
    assert closed - removed < ENDS_WITHIN
    assert b"dockerweb: access revoked: No host" in rest and host.name.encode() in rest


def test_a_client_dribbling_its_request_head_is_cut_off(gateway: Listener) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=1) as sock:
        opened = time.monotonic()
        sock.sendall(b"GET /hosts/any/_ping HTTP/1.1\r\n")
        received = b""
        while time.monotonic() - opened < HEAD_TIMEOUT + ENDS_WITHIN:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            except ConnectionResetError:
                break
            if chunk == b"":
                break
            received += chunk or b""
            try:
                sock.sendall(b"X")  # a header byte now and then, each well within any per-read timeout
            except (BrokenPipeError, ConnectionResetError):
                break
        cut = time.monotonic() - opened
    assert HEAD_TIMEOUT - 0.5 < cut < HEAD_TIMEOUT + ENDS_WITHIN, cut
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert "did not arrive within 2s" in json.loads(body)["message"]


def test_one_address_holding_too_many_connections_is_refused(
    gateway: Listener, host: Host, carol: User
) -> None:
    _, plaintext = issue(carol)
    ping = f"/hosts/{host.name}/_ping"
    held = [Wire(gateway.port) for _ in range(PER_ADDRESS)]
    try:
        for wire in held:  # kept alive after a request: each one counts
            assert wire.request("GET", ping, bearer(plaintext))[0] == 200
        with Wire(gateway.port) as extra:
            status, reply = extra.json("GET", ping, bearer(plaintext))
        assert status == 429 and f"already holds {PER_ADDRESS} connections" in reply["message"]
        held.pop().close()

        def served() -> bool:
            with Wire(gateway.port) as again:
                return again.request("GET", ping, bearer(plaintext))[0] == 200

        assert wait_until(served, timeout=10), "a closed connection's place was never freed"
    finally:
        for wire in held:
            wire.close()
