"""Helpers for the websocket tests (no tests here): clients through the real ASGI application, containers
on the testbed engines that are removed afterwards, and message collection with deadlines."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit

import docker
import docker.errors
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import User
from docker.models.containers import Container

from hosts.models import ApiToken, Grant, Host, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL

IMAGE = "dwtest/busybox:latest"  # built on the testbed from /bin/busybox; nothing is ever pulled
ORIGIN = (b"origin", b"http://localhost")
# Waits until `touch /go` (see Docker.go): lines printed after it come while viewers are attached.
WAIT_FOR_GO = "while [ ! -e /go ]; do sleep 0.05; done; "


def application() -> Any:
    from dockerweb.asgi import application as app

    return app


class WebsocketCommunicator(ApplicationCommunicator):
    """A websocket client of an ASGI app, as `channels.testing.WebsocketCommunicator`.

    Importing `channels.testing` needs daphne (for its live-server case), which the project does not
    install; this is the part of it the tests use, on the same asgiref base.
    """

    def __init__(self, app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        parsed = urlsplit(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "query_string": parsed.query.encode(),
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(app, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            await self.server_closed(response.get("code", 1000))
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, None

    async def send_text_to(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def send_json_to(self, data: Any) -> None:
        await self.send_text_to(json.dumps(data))

    async def send_bytes_to(self, data: bytes) -> None:
        await self.send_input({"type": "websocket.receive", "bytes": data})

    async def disconnect(self, code: int = 1000, timeout: float = 2) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)

    async def server_closed(self, code: int, timeout: float = 5) -> None:
        """What an ASGI server does once the application closed the socket: tell it the connection is gone
        (websocket.disconnect) and let it end by itself. Left running, the application would be cancelled
        at the end of the test's event loop, mid-read on the channel layer's Redis connection."""
        await self.disconnect(code, timeout)


def token_for(user: User) -> str:
    return ApiToken.issue(user, f"ws-{uuid.uuid4().hex[:8]}")[1]


def communicator(
    path: str, token: str | None = None, origin: tuple[bytes, bytes] | None = ORIGIN
) -> WebsocketCommunicator:
    """A websocket client of the real application (origin checked, bearer token or anonymous)."""
    # Browsers (and uvicorn) always send Host; the origin check compares Origin with it.
    headers = [(b"host", b"localhost")] + ([origin] if origin is not None else [])
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application(), path, headers=headers)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async scenario in one event loop (the app, the shared streams and the client live in it)."""
    async_to_sync(scenario)()


class Closed(AssertionError):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"socket closed with {code}: {reason}")
        self.code = code
        self.reason = reason


async def receive(ws: WebsocketCommunicator, timeout: float = 10.0) -> dict[str, Any] | bytes:
    """The next frame: a decoded JSON message or binary bytes; Closed if the server closed."""
    message = await ws.receive_output(timeout)
    if message["type"] == "websocket.close":
        await ws.server_closed(message.get("code", 1000))
        raise Closed(message.get("code"), message.get("reason", ""))
    assert message["type"] == "websocket.send", message
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    decoded: dict[str, Any] = json.loads(message["text"])
    return decoded


async def receive_json(ws: WebsocketCommunicator, timeout: float = 10.0) -> dict[str, Any]:
    frame = await receive(ws, timeout)
    assert isinstance(frame, dict), frame
    return frame


async def collect(
    ws: WebsocketCommunicator, until: Callable[[dict[str, Any]], bool], timeout: float = 15.0
) -> list[dict[str, Any]]:
    """JSON messages up to and including the first for which `until` is true."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {[m.get('type') for m in seen]}: {seen[-3:]}"
        try:
            message = await receive_json(ws, left)
        except (AssertionError, Closed):
            raise
        except Exception as exc:  # a timeout (cancelling the app may surface as another error)
            raise AssertionError(f"{exc!r}; got {[m.get('type') for m in seen]}: {seen[-3:]}") from None
        seen.append(message)
        if until(message):
            return seen


def texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text of every line in `lines` messages, in order."""
    return [line["text"] for m in messages if m["type"] == "lines" for line in m["lines"]]


def has_text(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "lines" and any(line["text"] == text for line in m["lines"])


async def expect_close(
    ws: WebsocketCommunicator, timeout: float = 10.0
) -> tuple[int | None, list[dict[str, Any]]]:
    """The close code, and the JSON messages before it."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            frame = await receive(ws, max(0.1, deadline - time.monotonic()))
        except Closed as closed:
            return closed.code, messages
        if isinstance(frame, dict):
            messages.append(frame)


async def connect(path: str, token: str | None) -> WebsocketCommunicator:
    ws = communicator(path, token)
    connected, _ = await ws.connect(timeout=10)
    assert connected
    return ws


async def refused(path: str, token: str | None) -> tuple[int | None, str]:
    """Connect, and return the close code and the error message the server sent before closing."""
    ws = communicator(path, token)
    connected, code = await ws.connect(timeout=10)
    if not connected:
        return code, ""
    code, messages = await expect_close(ws)
    errors = [m["message"] for m in messages if m["type"] == "error"]
    assert errors, f"closed with {code} without an error message: {messages}"
    await ws.disconnect()
    return code, errors[-1]


class Docker:
    """Containers on one testbed engine, with unique names, removed by `close()`."""

    def __init__(self, unix_url: str) -> None:
        self.client = docker.DockerClient(base_url=unix_url, version="1.41", timeout=30)
        self.created: list[Container] = []
        self.tag = uuid.uuid4().hex[:8]

    def run(
        self, script: str, *, tty: bool = False, labels: dict[str, str] | None = None, **kw: Any
    ) -> Container:
        name = f"dwtest-ws-{self.tag}-{len(self.created)}"
        container = self.client.containers.create(
            IMAGE, ["sh", "-c", script], name=name, tty=tty, labels=labels or {}, **kw
        )
        self.created.append(container)
        container.start()
        container.reload()
        return container

    def go(self, container: Container) -> None:
        """Release a container started with WAIT_FOR_GO."""
        container.exec_run(["touch", "/go"])

    async def ago(self, container: Container) -> None:
        await asyncio.to_thread(self.go, container)

    def close(self) -> None:
        for container in self.created:
            with suppress(docker.errors.NotFound):
                container.remove(force=True)
        self.client.close()


@contextmanager
def engine(unix_url: str) -> Iterator[Docker]:
    d = Docker(unix_url)
    try:
        yield d
    finally:
        d.close()


def owned_by(user: str, team: str = "") -> dict[str, str]:
    return {OWNER_USER_LABEL: user, OWNER_TEAM_LABEL: team}


def user_with_role(name: str, host: Host, role: Role, team: str | None = None) -> User:
    """A user with `role` on `host`: through `team` (created if needed) when given, else directly."""
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-password-1")
    if team is None:
        Grant.objects.create(user=user, host=host, role=role)
    else:
        group, _ = Team.objects.get_or_create(name=team)
        group.members.add(user)
        if not Grant.objects.filter(team=group, host=host).exists():
            Grant.objects.create(team=group, host=host, role=role)
    return user
