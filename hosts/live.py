"""Live sessions (websockets): the close codes and messages every consumer uses, and the watch that ends a
session within ACCESS_RECHECK_SECONDS once its access ends (token revoked or expired, user deactivated,
browser session ended, grant removed). Apps' consumers build on it (containers, images)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Hashable
from enum import IntEnum
from importlib import import_module
from types import SimpleNamespace
from typing import Any, ClassVar, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user, get_user_model

from hosts import access, policy
from hosts.access import AccessDenied, Caller
from hosts.engine import Conflict, EngineError, HostUnreachable, InvalidRequest, NotFound
from hosts.models import ApiToken

logger = logging.getLogger(__name__)


class CloseCode(IntEnum):
    """Close codes; an `{"type": "error", "message": ...}` message always comes first."""

    NORMAL = 1000
    BAD_REQUEST = 4400
    NOT_AUTHENTICATED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    CONFLICT = 4409  # e.g. exec into a container that is not running
    INTERNAL = 4500
    UNREACHABLE = 4502  # the host (or the engine's answer) failed


class Reject(Exception):
    """End the session with a close code and a message for the user."""

    def __init__(self, code: CloseCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def rejection(exc: Exception) -> Reject:
    """The close code and message for an access, policy, engine or parameter failure."""
    if isinstance(exc, Reject):
        return exc
    if isinstance(exc, AccessDenied):
        return Reject(CloseCode.NOT_FOUND if exc.not_found else CloseCode.FORBIDDEN, exc.message)
    if isinstance(exc, policy.Denied):
        return Reject(CloseCode.FORBIDDEN, f"{exc.message} (policy rule {exc.rule}, field {exc.field})")
    if isinstance(exc, NotFound):
        return Reject(CloseCode.NOT_FOUND, str(exc))
    if isinstance(exc, Conflict):
        return Reject(CloseCode.CONFLICT, str(exc))
    if isinstance(exc, InvalidRequest):
        return Reject(CloseCode.BAD_REQUEST, str(exc))
    if isinstance(exc, HostUnreachable):
        return Reject(CloseCode.UNREACHABLE, f"Host unreachable: {exc}")
    if isinstance(exc, EngineError):
        return Reject(CloseCode.UNREACHABLE, f"Engine error: {exc}")
    if isinstance(exc, ValueError):
        return Reject(CloseCode.BAD_REQUEST, str(exc))
    return Reject(CloseCode.INTERNAL, "Internal error; the server log has the details.")


HANDLED = (Reject, AccessDenied, policy.Denied, EngineError, ValueError)


class Watched(Protocol):
    """A socket AccessWatch keeps an eye on (EngineConsumer, and the jobs sockets of images.consumers)."""

    scope: dict[str, Any]
    who: Caller

    def still_allowed(self, who: Caller) -> None:
        """Raise Reject or AccessDenied unless `who` may still have this session (runs in a thread)."""
        ...

    def end_session(self, reject: Reject) -> None:
        """Close the socket with `reject`'s code and message (on the event loop, must not block)."""
        ...


def _credential_key(scope: dict[str, Any]) -> Hashable:
    token = scope.get("token")
    if isinstance(token, ApiToken):
        return ("token", token.pk)
    session = scope.get("session")
    return ("session", getattr(session, "session_key", None))


def reauthenticate(scope: dict[str, Any]) -> Caller:
    """The caller behind a socket's credential as it is now: the bearer token it connected with (revoked,
    expired, its user deactivated: 4401), or its session (signed out, expired, user deactivated: 4401).
    A token's changed limits (hosts, role ceiling) apply from here on."""
    token = scope.get("token")
    if isinstance(token, ApiToken):
        current = ApiToken.objects.active().select_related("user").filter(pk=token.pk).first()
        if current is None:
            raise Reject(
                CloseCode.NOT_AUTHENTICATED,
                "Your API token was revoked or has expired; this session has ended.",
            )
        if not current.user.is_active:
            raise Reject(
                CloseCode.NOT_AUTHENTICATED,
                f"User {current.user.get_username()!r} was deactivated; this session has ended.",
            )
        return access.caller(current.user, current)
    # The session as it is in the store now (not the copy loaded at connect): gone once signed out or expired.
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    connected = scope.get("user")
    if user.is_authenticated and connected is not None and user.pk == connected.pk:
        return access.caller(user)
    if (
        connected is not None
        and get_user_model()._default_manager.filter(pk=connected.pk, is_active=False).exists()
    ):
        message = f"User {connected.get_username()!r} was deactivated; this session has ended."
    else:
        message = "You were signed out or your session expired; this session has ended. Sign in again."
    raise Reject(CloseCode.NOT_AUTHENTICATED, message)


def recheck(sockets: list[Watched]) -> list[Caller | Reject]:
    """For each socket, its caller as of now, or why its session must end. Each credential is
    re-authenticated once per round, and sockets of one credential share its (fresh) Caller."""
    callers: dict[Hashable, Caller | Reject] = {}
    outcomes: list[Caller | Reject] = []
    for socket in sockets:
        try:
            key = _credential_key(socket.scope)
            if key not in callers:
                try:
                    callers[key] = reauthenticate(socket.scope)
                except Reject as exc:
                    callers[key] = exc
            who = callers[key]
            if isinstance(who, Caller):
                socket.still_allowed(who)
            outcomes.append(who)
        except HANDLED as exc:
            reject = rejection(exc)
            outcomes.append(
                Reject(reject.code, f"Your access changed: {reject.message} This session has ended.")
            )
        except Exception:
            # Access that cannot be verified is not assumed: the session ends (and the log says why).
            logger.exception("websocket %s: re-checking access failed", socket.scope.get("path"))
            outcomes.append(rejection(RuntimeError()))
    return outcomes


class AccessWatch:
    """One timer per event loop over every open socket: each round re-authenticates their credentials and
    re-checks their access through hosts.access in one trip to a thread, and ends the sessions that lost it.

    A revoked or expired token, a deactivated user, an ended browser session (4401), a removed grant, a role
    below what the session needs or a host no longer visible (4403/4404) close a socket within
    ACCESS_RECHECK_SECONDS."""

    _watches: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccessWatch]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self.sockets: set[Watched] = set()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def add(cls, socket: Watched) -> None:
        """Watch `socket` until it is discarded (or its access ends)."""
        loop = asyncio.get_running_loop()
        watch = cls._watches.get(loop)
        if watch is None:
            watch = cls._watches[loop] = cls()
        watch.sockets.add(socket)
        if watch.task is None or watch.task.done():
            watch.task = loop.create_task(watch.run(), name="websocket access watch")

    @classmethod
    def discard(cls, socket: Watched) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing was watched from here
            watch = cls._watches.get(asyncio.get_running_loop())
            if watch is not None:
                watch.sockets.discard(socket)
                if not watch.sockets and watch.task is not None:
                    watch.task.cancel()  # the last socket closed: no timer until the next one opens
                    watch.task = None

    async def run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.ACCESS_RECHECK_SECONDS)
            sockets = list(self.sockets)
            if not sockets:
                break
            try:
                outcomes = await database_sync_to_async(recheck)(sockets)
            except Exception:
                logger.exception("websocket access watch: a round failed")
                continue
            for socket, outcome in zip(sockets, outcomes, strict=True):
                if socket not in self.sockets:
                    continue  # closed meanwhile
                if isinstance(outcome, Reject):
                    self.sockets.discard(socket)
                    logger.info("websocket %s ended: %s", socket.scope.get("path"), outcome.message)
                    socket.end_session(outcome)
                else:
                    socket.who = outcome  # later checks of the session (events, ownership) use fresh roles
