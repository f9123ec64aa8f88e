"""The gateway on the wire: engine headers, HEAD, routing errors, streaming without buffering, hijacks
with and without Upgrade, BuildKit's path-less calls, per-request identity, stream caps and idle timeouts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from hosts.gateway import Gateway as GatewayServer
from hosts.gateway import conf
from tests.gateway.conftest import API_VERSION, IMAGE, UNIX_HOST, Gateway
from tests.gateway.wire import Wire, demux

V = f"/v{API_VERSION}"
PREFIX = f"/hosts/{UNIX_HOST}"


def auth(gateway: Gateway, user: str = "alice") -> dict[str, str]:
    return gateway.headers(user)


@pytest.fixture(scope="module")
def box(engine1: docker.DockerClient) -> Iterator[Any]:
    container = engine1.containers.run(IMAGE, ["sleep", "600"], detach=True, name="gw-protocol-box")
    try:
        yield container
    finally:
        container.remove(force=True)


def test_ping_answers_with_the_engines_own_headers(gateway: Gateway) -> None:
    for method in ("GET", "HEAD"):
        with Wire(gateway.plain.port) as through, Wire(unix=gateway.testbed.engine1.socket_path) as direct:
            status, headers, body = through.request(method, f"{PREFIX}/_ping", auth(gateway))
            direct_status, direct_headers, direct_body = direct.request(method, "/_ping")
        assert (status, body) == (direct_status, direct_body) == (200, b"" if method == "HEAD" else b"OK")
        for name in ("api-version", "ostype", "docker-experimental", "server", "content-length"):
            assert headers.get(name) == direct_headers.get(name), name
        assert headers["api-version"] == API_VERSION


def test_head_carries_content_length_and_no_body(gateway: Gateway, box: Any) -> None:
    target = f"{V}/containers/{box.id}/archive?path=/bin/busybox"
    with Wire(gateway.plain.port) as through, Wire(unix=gateway.testbed.engine1.socket_path) as direct:
        status, headers, body = through.request("HEAD", PREFIX + target, auth(gateway))
        _, direct_headers, _ = direct.request("HEAD", target)
        # The connection is still in step: a second request on it works.
        assert through.request("GET", f"{PREFIX}/_ping", auth(gateway))[0] == 200
    assert status == 200 and body == b""
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "busybox"
    assert headers.get("content-length") == direct_headers.get("content-length")  # 20.10 sends none


@pytest.mark.parametrize(
    ("target", "status", "words"),
    [
        ("/hosts/no-such-host/_ping", 404, "No host 'no-such-host' is visible"),
        (f"{V}/containers/json", 404, "DOCKER_HOST=tcp://"),
        (f"/hosts/{UNIX_HOST}", 404, "add a Docker API path"),
        (f"{PREFIX}/v1.41/containers/../images/json", 400, "Dot segments"),
    ],
)
def test_requests_that_name_no_host_get_a_message_the_cli_prints(
    gateway: Gateway, target: str, status: int, words: str
) -> None:
    with Wire(gateway.plain.port) as wire:
        got, reply = wire.json("GET", target, auth(gateway))
    assert got == status and words in reply["message"]


def test_every_request_on_a_kept_alive_connection_is_authenticated_on_its_own(
    gateway: Gateway, box: Any
) -> None:
    with Wire(gateway.plain.port) as wire:
        status, listed = wire.json("GET", f"{PREFIX}{V}/containers/json", auth(gateway, "alice"))
        assert status == 200 and box.id in [c["Id"] for c in listed]
        assert wire.json("GET", f"{PREFIX}{V}/containers/json")[0] == 401
        status, listed = wire.json("GET", f"{PREFIX}{V}/containers/json", auth(gateway, "bob"))
        assert status == 200 and box.id not in [c["Id"] for c in listed]  # unowned: hidden from bob
        assert wire.json("GET", f"{PREFIX}{V}/containers/json", auth(gateway, "nadia"))[0] == 404


def test_response_heads_are_relayed_before_the_body_ends(
    gateway: Gateway, engine1: docker.DockerClient
) -> None:
    container = engine1.containers.run(IMAGE, ["sh", "-c", "echo first; sleep 600"], detach=True)
    try:
        with Wire(gateway.plain.port, timeout=5) as wire:
            # `docker run` waits for these headers before it starts the container.
            wire.send("POST", f"{PREFIX}{V}/containers/{container.id}/wait", auth(gateway))
            status, _ = wire.head()
            assert status == 200
            with Wire(gateway.plain.port, timeout=5) as logs:
                logs.send(
                    "GET", f"{PREFIX}{V}/containers/{container.id}/logs?follow=1&stdout=1", auth(gateway)
                )
                assert logs.head()[0] == 200
                assert demux(logs.next_data()) == b"first\n"  # while the container still runs
            container.kill()
            assert json.loads(wire.body())["StatusCode"] == 137
    finally:
        container.remove(force=True)


def _exec(gateway: Gateway, box: Any, command: list[str]) -> str:
    with Wire(gateway.plain.port) as wire:
        body = {"Cmd": command, "AttachStdin": True, "AttachStdout": True, "AttachStderr": True}
        status, created = wire.json("POST", f"{PREFIX}{V}/containers/{box.id}/exec", auth(gateway), body)
    assert status == 201, created
    return str(created["Id"])


@pytest.mark.parametrize("upgrade", [True, False], ids=["upgrade", "no-upgrade"])
def test_exec_start_is_hijacked_and_output_outlives_the_half_closed_stdin(
    gateway: Gateway, box: Any, upgrade: bool
) -> None:
    exec_id = _exec(gateway, box, ["sh", "-c", "cat; sleep 0.3; echo after-eof"])
    headers = {**auth(gateway), "Content-Type": "application/json"}
    if upgrade:
        headers.update(Connection="Upgrade", Upgrade="tcp")
    with Wire(gateway.plain.port) as wire:
        wire.send(
            "POST", f"{PREFIX}{V}/exec/{exec_id}/start", headers, json.dumps({"Detach": False}).encode()
        )
        status, response_headers = wire.head()
        assert status == (101 if upgrade else 200)
        assert "content-length" not in response_headers and "transfer-encoding" not in response_headers
        already, _ = wire.raw_rest()
        wire.sock.sendall(b"to-stdin\n")
        wire.sock.shutdown(socket.SHUT_WR)
        assert demux(wire.read_until_closed(already)) == b"to-stdin\nafter-eof\n"


def test_buildkit_session_reaches_the_default_host_for_admins_only(gateway: Gateway) -> None:
    session = {"Connection": "Upgrade", "Upgrade": "h2c", "X-Docker-Expose-Session-Uuid": "gw-test"}
    with Wire(gateway.plain.port) as wire:
        wire.send("POST", "/session", {**session, **auth(gateway, "alice")}, b"")
        status, headers = wire.head()
    assert status == 101 and headers["upgrade"] == "h2c"
    with Wire(gateway.plain.port) as wire:
        status, reply = wire.json("POST", "/session", {**session, **auth(gateway, "bob")})
    assert status == 403 and "DOCKER_BUILDKIT=0" in reply["message"]


@pytest.fixture
def small_gateway(
    gateway: Gateway, committed: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GatewayServer]:
    """A gateway in this process (its own loop and thread): at most 2 streams per token, 0.5 s idle."""
    monkeypatch.setattr(conf, "IDLE_TIMEOUT", 0.5)
    server = GatewayServer("127.0.0.1", 0, max_streams_per_token=2, threads=2)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_token_holds_a_bounded_number_of_streams(gateway: Gateway, small_gateway: GatewayServer) -> None:
    streams = [Wire(small_gateway.port) for _ in range(2)]
    try:
        for stream in streams:
            stream.send("GET", f"{PREFIX}{V}/events", auth(gateway))
            assert stream.head()[0] == 200
        with Wire(small_gateway.port) as third:
            status, reply = third.json("GET", f"{PREFIX}/_ping", auth(gateway))
        assert status == 429 and "2 requests or streams open" in reply["message"]
        with Wire(small_gateway.port) as other_token:
            assert other_token.request("GET", f"{PREFIX}/_ping", auth(gateway, "bob"))[0] == 200
        streams.pop().close()  # the client going away frees its slot (and the engine connection)
        deadline = time.monotonic() + 5
        while True:
            with Wire(small_gateway.port) as again:
                if again.request("GET", f"{PREFIX}/_ping", auth(gateway))[0] == 200:
                    break
            assert time.monotonic() < deadline, "the closed stream's slot was never released"
            time.sleep(0.1)
    finally:
        for stream in streams:
            stream.close()


def test_idle_connections_close_but_quiet_streams_stay(
    gateway: Gateway, small_gateway: GatewayServer, engine1: docker.DockerClient
) -> None:
    with Wire(small_gateway.port) as idle, Wire(small_gateway.port) as events:
        assert idle.request("GET", f"{PREFIX}/_ping", auth(gateway))[0] == 200
        events.send("GET", f"{PREFIX}{V}/events?filters=%7B%22type%22%3A%5B%22volume%22%5D%7D", auth(gateway))
        assert events.head()[0] == 200
        time.sleep(1.5)  # three idle timeouts
        assert idle.sock.recv(1) == b""  # closed by the gateway
        volume = engine1.volumes.create("gw-idle-test")
        try:
            event = json.loads(events.next_data())
            assert (event["Type"], event["Action"], event["Actor"]["ID"]) == (
                "volume",
                "create",
                "gw-idle-test",
            )
        finally:
            volume.remove()
    with contextlib.suppress(docker.errors.NotFound):
        engine1.volumes.get("gw-idle-test").remove()
