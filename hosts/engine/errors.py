"""Engine failures as our own exceptions, each carrying the host and the engine's own message."""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import docker.errors
import httpx
import requests.exceptions


class EngineError(Exception):
    """The engine answered with an error (or something between us and it failed)."""

    http_status: ClassVar[int] = 502
    code: ClassVar[str] = "engine_error"

    def __init__(self, message: str, *, host: str = "", engine_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.engine_status = engine_status

    def __str__(self) -> str:
        return f"host {self.host!r}: {self.message}" if self.host else self.message

    def as_dict(self) -> dict[str, Any]:
        return {"detail": str(self), "code": self.code, "host": self.host, "engine_message": self.message}


class HostUnreachable(EngineError):
    """No answer from the engine: refused, timed out, TLS failure, socket missing."""

    http_status = 503
    code = "host_unreachable"


class NotFound(EngineError):
    http_status = 404
    code = "not_found"


class Conflict(EngineError):
    http_status = 409
    code = "conflict"


class InvalidRequest(EngineError):
    """The engine refused the request as malformed (its 400)."""

    http_status = 400
    code = "engine_bad_request"


class AmbiguousReference(InvalidRequest):
    """An id prefix that matches more than one object. dockerd answers a container's with a 500 and a
    network's with a 400: one 4xx naming the prefix, so a client tells it from neither a missing object
    nor an engine failure."""

    code = "ambiguous_reference"


# dockerd's wordings: "Multiple IDs found with provided prefix: ab" (containers, truncindex),
# "network ab is ambiguous (2 matches found based on ID prefix)" (networks).
_AMBIGUOUS = re.compile(
    r"multiple ids found with provided prefix: (?P<a>\S+)|network (?P<b>\S+) is ambiguous", re.IGNORECASE
)


def ambiguous_prefix(message: str) -> str | None:
    """The id prefix an engine error says is ambiguous, or None when it says something else."""
    match = _AMBIGUOUS.search(message)
    return None if match is None else (match["a"] or match["b"])


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and the exceptions wrapped in their args (urllib3 nests them deeply)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)


def unreachable_reason(exc: BaseException, *, connect_timeout: float, read_timeout: float) -> str:
    """A short human reason for a connection failure, naming the cause (refused, TLS, timeout, ...)."""
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            return (
                f"TLS verification of the engine's certificate failed: {item.verify_message or item.reason}"
            )
    for item in chain:
        if isinstance(item, ssl.SSLError):
            return f"TLS handshake failed: {item.reason or item}"
    for item in chain:
        if isinstance(item, (requests.exceptions.ConnectTimeout, httpx.ConnectTimeout)):
            return f"connection timed out after {connect_timeout:g}s"
        if isinstance(
            item, (requests.exceptions.ReadTimeout, httpx.ReadTimeout, socket.timeout, TimeoutError)
        ):
            return f"the engine accepted the connection but did not answer within {read_timeout:g}s"
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (is the engine running and listening there?)"
        if isinstance(item, FileNotFoundError):
            return "the socket does not exist (is the engine running?)"
        if isinstance(item, PermissionError):
            return "permission denied on the socket"
        if isinstance(item, OSError) and item.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to the engine's address"
        if isinstance(item, socket.gaierror):
            return f"the engine's host name does not resolve: {item.strerror}"
        if isinstance(item, (ConnectionResetError, requests.exceptions.ChunkedEncodingError)):
            return "the engine closed the connection (a TLS-only port spoken to without TLS?)"
    return str(exc) or type(exc).__name__


def _from_api_error(exc: docker.errors.APIError, host: str) -> EngineError:
    return error_for_status(exc.status_code, str(exc.explanation or exc), host)


def raise_for_status(response: httpx.Response, host: str) -> None:
    """Raise the EngineError matching an engine's error response (its JSON `message` kept)."""
    if response.is_success:
        return
    try:
        message = str(response.json().get("message") or response.text)
    except ValueError:
        message = response.text or response.reason_phrase
    raise error_for_status(response.status_code, message.strip(), host)


def error_for_status(status: int | None, message: str, host: str) -> EngineError:
    """The EngineError for an engine's error answer (its HTTP status and message)."""
    prefix = ambiguous_prefix(message)
    if prefix is not None:
        return AmbiguousReference(
            f"the id prefix {prefix!r} matches more than one object; give more of the id or the name",
            host=host,
            engine_status=status,
        )
    kind: type[EngineError]
    if status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    elif status == 400:
        kind = InvalidRequest
    else:
        kind = EngineError
    return kind(message, host=host, engine_status=status)


@contextmanager
def translate_errors(host: str, *, connect_timeout: float, read_timeout: float) -> Iterator[None]:
    """Turn docker SDK, requests and httpx failures into EngineError subclasses."""
    try:
        yield
    except EngineError:
        raise
    except docker.errors.APIError as exc:
        raise _from_api_error(exc, host) from exc
    except (requests.exceptions.RequestException, httpx.TransportError, OSError) as exc:
        reason = unreachable_reason(exc, connect_timeout=connect_timeout, read_timeout=read_timeout)
        raise HostUnreachable(reason, host=host) from exc
    except docker.errors.DockerException as exc:
        # The SDK wraps connection failures during version negotiation in a bare DockerException.
        reason = unreachable_reason(exc, connect_timeout=connect_timeout, read_timeout=read_timeout)
        raise HostUnreachable(reason, host=host) from exc
