"""What every live consumer shares: authentication and access on connect, close codes with a reason,
typed client messages, background tasks that end with the socket, and the end of a session when its access
ends (AccessWatch)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from containers.streams import ContainerInfo, inspect_container
from hosts import access, visibility
from hosts.access import AccessDenied, Action, Caller
from hosts.engine import EngineError, EngineTarget, NotFound
from hosts.live import HANDLED, AccessWatch, CloseCode, Reject, rejection
from hosts.models import Host

logger = logging.getLogger(__name__)


def _close_reason(message: str) -> str:
    # A close frame carries at most 123 bytes of reason; the full message went in the error message.
    data = message.encode()[:123]
    return data.decode("utf-8", "ignore")


class EngineConsumer(AsyncJsonWebsocketConsumer):
    """Base of the live consumers; subclasses implement `start` and `on_<type>` for client messages."""

    client_messages: ClassVar[frozenset[str]] = frozenset()
    # Nothing reaches these sockets through the channel layer: engine data fans out in-process (one engine
    # stream per process, containers.streams.fanout). Without a layer a socket holds no Redis poll.
    channel_layer_alias = "__no_channel_layer__"
    who: Caller
    host: Host
    host_action: Action = Action.VIEW
    target: EngineTarget

    async def connect(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False
        self.query = {
            k: v for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin-1")).items()
        }
        await self.accept()
        try:
            user = self.scope.get("user")
            if user is None or not user.is_authenticated or not user.is_active:
                raise Reject(
                    CloseCode.NOT_AUTHENTICATED,
                    "Not signed in: use a session or `Authorization: Bearer <token>`.",
                )
            self.who = access.caller(user, self.scope.get("token"))
            await self.start()
        except HANDLED as exc:
            await self.fail(rejection(exc))
            return
        if not self.closing:
            AccessWatch.add(self)

    async def start(self) -> None:
        raise NotImplementedError

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self.query.items()}

    # Lifetime

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coro` until the socket closes; its failure closes the socket with a reason."""
        task = asyncio.get_running_loop().create_task(self._guard(coro), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guard(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except HANDLED as exc:
            await self.fail(rejection(exc))
        except Exception as exc:
            logger.exception("websocket %s failed", self.scope.get("path"))
            await self.fail(rejection(exc))

    async def fail(self, reject: Reject) -> None:
        """Send the error message, close with its code, stop everything."""
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "code": int(reject.code), "message": reject.message})
        with contextlib.suppress(Exception):
            await self.close(code=int(reject.code), reason=_close_reason(reject.message))
        await self._shutdown()

    async def finish(self, code: int = CloseCode.NORMAL) -> None:
        """Close normally (the stream or the command ended) and stop everything."""
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):
            await self.close(code=code)
        await self._shutdown()

    async def disconnect(self, code: int) -> None:
        self.closing = True
        await self._shutdown()

    async def _shutdown(self) -> None:
        AccessWatch.discard(self)
        current = asyncio.current_task()
        tasks = [task for task in getattr(self, "tasks", ()) if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.cleanup()

    async def cleanup(self) -> None:
        """Release engine streams and connections; called once or more, must be idempotent."""

    # Access over the session's lifetime (AccessWatch)

    def still_allowed(self, who: Caller) -> None:
        """Raise (Reject, AccessDenied) unless `who` may still have what this session shows or does; runs in
        a thread. Here: the host, for the action the session was opened with; subclasses add their objects."""
        host = getattr(self, "host", None)
        if host is not None:
            host_for(who, host.pk, self.host_action)

    def end_session(self, reject: Reject) -> None:
        """Access ended: close with `reject` (called on the event loop by AccessWatch)."""
        self.spawn(self.access_ended(reject), name=f"access ended {self.scope.get('path')}")

    async def access_ended(self, reject: Reject) -> None:
        await self.fail(reject)

    # Client messages

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self.closing:
            return
        if text_data is None:
            await self.receive_bytes(bytes_data or b"")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error('Messages are JSON objects such as {"type": "pause"}.')
            return
        await self.receive_json(content)

    async def receive_bytes(self, data: bytes) -> None:
        await self.send_error("Binary messages are not accepted here.")

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in self.client_messages:
            expected = ", ".join(sorted(self.client_messages)) or "none"
            await self.send_error(f"Unknown message type {kind!r}; this socket takes: {expected}.")
            return
        try:
            await getattr(self, f"on_{kind}")(content)
        except (ValueError, TypeError) as exc:
            await self.send_error(str(exc))
        except EngineError as exc:
            await self.send_error(str(exc))

    async def send_error(self, message: str) -> None:
        """An error that does not end the session (a bad client message)."""
        await self.send_json({"type": "error", "message": message})

    # Access

    async def resolve_host(self, action: Action = Action.VIEW) -> Host:
        """The host of the route, if the caller may `action` there (4404 when they may not even see it)."""
        host_id = int(self.scope["url_route"]["kwargs"]["host_id"])
        self.host = await database_sync_to_async(host_for)(self.who, host_id, action)
        self.host_action = action  # what AccessWatch re-checks for as long as the session lasts
        self.target = EngineTarget.of(self.host)
        return self.host

    async def resolve_container(self, client: Any, ref: str) -> ContainerInfo:
        """The container `ref` on the host, if the caller may see it (4404 otherwise, to not leak names)."""
        missing = Reject(CloseCode.NOT_FOUND, f"No container {ref!r} on host {self.host.name!r}.")
        try:
            info = await inspect_container(client, self.target, ref)
        except NotFound:
            raise missing from None
        if not await database_sync_to_async(visibility.can_see_object)(self.who, self.host, info.labels):
            raise missing
        return info


def host_for(who: Caller, host_id: int, action: Action) -> Host:
    """Host `host_id`, if the caller may `action` there: Reject 4404 when they may not even see it (or it is
    gone), AccessDenied (4403) when their role is too low."""
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        raise Reject(CloseCode.NOT_FOUND, f"No host {host_id} is visible to you.")
    try:
        access.require(who, host, action)
    except AccessDenied as exc:
        if exc.not_found:  # the same answer as for a host that does not exist: no name leaks
            raise Reject(CloseCode.NOT_FOUND, f"No host {host_id} is visible to you.") from None
        raise
    return host
