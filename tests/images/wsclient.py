"""A websocket client of the real ASGI application for the job socket tests (no tests here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import User

from hosts.models import ApiToken

ORIGIN = (b"origin", b"http://localhost")


class Closed(AssertionError):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed with {code}")
        self.code = code


class Client(ApplicationCommunicator):
    """What `channels.testing.WebsocketCommunicator` does (that module needs daphne, not installed)."""

    def __init__(self, path: str, token: str | None) -> None:
        from dockerweb.asgi import application

        path, _, query = path.partition("?")
        headers = [(b"host", b"localhost"), ORIGIN]
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {"type": "websocket", "path": path, "query_string": query.encode(), "headers": headers}
        super().__init__(application, {**scope, "subprotocols": []})

    async def open(self) -> None:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(10)
        assert response["type"] == "websocket.accept", response

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await self.receive_output(timeout)
        if message["type"] == "websocket.close":
            # As an ASGI server does after a close: tell the application, and let it end by itself (it
            # would otherwise be cancelled with the test's loop, mid-read on the channel layer's Redis).
            await self.send_input({"type": "websocket.disconnect", "code": message.get("code", 1000)})
            await self.wait(5)
            raise Closed(message.get("code"))
        decoded: dict[str, Any] = json.loads(message["text"])
        return decoded

    async def until(
        self, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Messages up to and including the first for which `done` is true."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out after {len(seen)} messages: {seen[-2:]}"
            seen.append(await self.next(left))
            if done(seen[-1]):
                return seen

    async def closed_with(self, timeout: float = 10.0) -> tuple[int | None, list[dict[str, Any]]]:
        messages: list[dict[str, Any]] = []
        try:
            while True:
                messages.append(await self.next(timeout))
        except Closed as closed:
            return closed.code, messages

    async def leave(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(2)


def token_for(user: User) -> str:
    return ApiToken.issue(user, f"ws-{uuid.uuid4().hex[:8]}")[1]
