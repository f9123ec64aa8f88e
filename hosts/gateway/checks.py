"""The synchronous side of a request: token or client certificate, host, admission (hosts.admission) and
audit rows.

A client certificate (its fingerprint, from the connection's TLS handshake) is looked up per request like a
token, both through a short process-wide cache (AUTH_CACHE_SECONDS, 2 s by default) shared by every
connection: parallel and reused connections cost no query each, and a revocation, expiry or deactivation
stops new requests within that time; streams already running are re-checked by server.StreamWatch
every ACCESS_RECHECK_SECONDS and end too.

These touch the database (and, for ownership facts, the engine through the SDK), so the server runs them in
its own thread pool (`SyncRunner`), never on the event loop. Nothing here decides access itself: roles and
ownership come from hosts.access, the body rules from hosts.policy, both through hosts.admission.admit.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO, Any, Generic, ParamSpec, TypeVar

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from hosts import access, admission, audit, client_certs, policy
from hosts.access import AccessDenied, Caller
from hosts.auth import authenticate_token, token_from_header
from hosts.engine import EngineTarget
from hosts.engine.request import BadReference, EngineRequest, check_content_type
from hosts.models import ApiToken, ClientCertificate, EntryPoint, Host, Outcome, Role

from . import conf, routing

P = ParamSpec("P")
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

# Help text naming a token placeholder, not a secret.
TOKEN_HELP = (
    'put your dockerweb API token in the Docker CLI\'s config.json as "HttpHeaders": '  # noqa: S105
    '{"Authorization": "Bearer <token>"} (or set DOCKER_CUSTOM_HEADERS=Authorization=Bearer <token>)'
)
CERTIFICATE_HELP = (
    "a client certificate for the gateway comes from `manage.py issuecert USER --out DIR` or "
    "POST /api/v1/certificates/, used with DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=DIR"
)
BUILDKIT_HELP = (
    "BuildKit cannot be used through the dockerweb gateway by non-admins; "
    "set DOCKER_BUILDKIT=0 to use the classic builder."
)

CONNECTION_CHECK_SECONDS = 5.0


class Unauthorized(Exception):
    """No usable token: the reply is a 401 with `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(Exception):
    """A refused call: the reply's status and JSON payload; `resolved` is set once the caller is known."""

    def __init__(
        self, status: int, payload: dict[str, str], resolved: Resolved | None = None, detail: str = ""
    ) -> None:
        super().__init__(payload["message"])
        self.status, self.payload, self.resolved = status, payload, resolved
        self.detail = detail or payload["message"]

    @classmethod
    def of(cls, exc: AccessDenied | policy.Denied, resolved: Resolved | None) -> Refused:
        if isinstance(exc, policy.Denied):
            payload = {"message": exc.message, "rule": exc.rule, "field": exc.field}
            return cls(403, payload, resolved, f"{exc.rule} ({exc.field}): {exc.message}")
        return cls(404 if exc.not_found else 403, {"message": exc.message}, resolved)


class SyncRunner:
    """Runs database work in a thread pool (each thread keeps its database connection, checked every few
    seconds)."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway-db")

    async def __call__(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(_in_thread, func, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_hygiene = threading.local()


def _in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Django drops broken or aged connections around every request; doing that per gateway request would
    # reopen SQLite (CONN_MAX_AGE=0) for each one, so each thread does it every few seconds instead, and
    # at once after a database error.
    now = time.monotonic()
    if now - getattr(_hygiene, "checked", 0.0) > CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _hygiene.checked = now
    try:
        return func(*args, **kwargs)
    except DatabaseError:
        _hygiene.checked = 0.0
        raise


class _Recent(Generic[K, V]):
    """Values looked up in the last `ttl` seconds (thread-safe, bounded): a token and a host are read from
    the database once per TTL instead of once per request; revocations and changes apply within the TTL."""

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
        if found is not None and now - found[0] < self.ttl:
            return found[1]
        value = load()
        if self.ttl > 0:
            with self._lock:
                if len(self._items) >= self.size:
                    self._items.clear()
                self._items[key] = (now, value)
        return value


_tokens: _Recent[bytes, ApiToken | None] = _Recent(conf.AUTH_CACHE_SECONDS)
_hosts: _Recent[str, Host | None] = _Recent(conf.AUTH_CACHE_SECONDS)
# Client certificates by fingerprint, revoked and unknown ones too (so their refusal costs no query either):
# shared by every connection, so a revocation applies to new requests within AUTH_CACHE_SECONDS.
_certificates: _Recent[str, tuple[ClientCertificate | None, str | None]] = _Recent(conf.AUTH_CACHE_SECONDS)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request can authenticate with: its Authorization header, and its connection's TLS client
    certificate (the SHA-256 fingerprint of one the TLS handshake verified)."""

    authorization: bytes | None = None
    certificate: str | None = None
    tls: bool = False  # the connection is TLS (so a certificate could have been sent)


def authenticate(credentials: Credentials | bytes | None) -> Caller:
    """The caller behind a request; raises Unauthorized.

    A bearer token, when sent, decides (a header is per request and explicit); otherwise a client
    certificate issued by dockerweb names the user, with its own limits as a token's."""
    if not isinstance(credentials, Credentials):
        credentials = Credentials(credentials)
    plaintext = token_from_header(credentials.authorization)
    if plaintext is None and credentials.certificate is not None:
        return _by_certificate(credentials.certificate)
    if plaintext is None:
        help_text = f"{TOKEN_HELP}; or {CERTIFICATE_HELP}" if credentials.tls else TOKEN_HELP
        raise Unauthorized(f"dockerweb gateway: authentication required; {help_text}.")
    # Keyed by a digest so the cache holds no usable token.
    key = hashlib.sha256(plaintext.encode()).digest()
    token = _tokens.get(key, lambda: authenticate_token(plaintext) if plaintext else None)
    if token is None or token.is_expired:
        raise Unauthorized(f"dockerweb gateway: invalid, expired or revoked token; {TOKEN_HELP}.")
    # A Caller per request: its cached team names must not outlive the request.
    return access.caller(token.user, token)


def _load_certificate(fingerprint: str) -> tuple[ClientCertificate | None, str | None]:
    certificate = client_certs.find(fingerprint)
    refused = client_certs.refusal(certificate)
    if certificate is not None and refused is None:
        certificate.touch()
    return certificate, refused


def _by_certificate(fingerprint: str) -> Caller:
    certificate, refused = _certificates.get(fingerprint, lambda: _load_certificate(fingerprint))
    if certificate is not None and refused is None and certificate.is_expired:
        refused = client_certs.refusal(certificate)  # expired since it was cached
    if certificate is None or refused is not None:
        raise Unauthorized(
            f"dockerweb gateway: the TLS client certificate you sent {refused}; it does not authenticate "
            f"you. Use a valid certificate ({CERTIFICATE_HELP}), or send no certificate and a token: "
            f"{TOKEN_HELP}."
        )
    return access.caller(certificate.user, certificate)


@dataclass(frozen=True)
class Resolved:
    """An authenticated caller and the host a request goes to."""

    who: Caller
    host: Host
    engine: EngineTarget
    role: Role | None

    @classmethod
    def of(cls, who: Caller, host: Host, role: Role | None) -> Resolved:
        if role is not Role.ADMIN:
            who.team_names  # noqa: B018 - loaded here, in a thread: filtering reads it on the event loop
        return cls(who, host, EngineTarget.of(host), role)

    @property
    def token_id(self) -> Hashable:
        """What the per-token stream cap counts by: the token, or the client certificate."""
        token = self.who.token
        if token is None:
            return None
        return (type(token).__name__, token.pk)  # token and certificate ids are of different tables


def resolve(credentials: Credentials | bytes | None, target: routing.Target) -> Resolved:
    """Authenticate and find the host; raises Unauthorized or Refused."""
    try:
        return _resolve(authenticate(credentials), target)
    except AccessDenied as exc:
        raise Refused.of(exc, None) from exc


def _resolve(who: Caller, target: routing.Target) -> Resolved:
    # BuildKit's path-less calls go to the token's default host, for its admins only.
    if target.buildkit:
        host = who.token.default_host if who.token is not None else None
        if host is None:
            raise AccessDenied(
                "BuildKit's /grpc and /session calls go to your token's (or certificate's) default host, and "
                "it has none: an admin can set one on the token, a certificate gets one when issued; or set "
                "DOCKER_BUILDKIT=0 for the classic builder."
            )
        role = access.role_for(who, host)
        if role is not Role.ADMIN:
            raise AccessDenied(BUILDKIT_HELP)
        return Resolved.of(who, host, role)
    host = _hosts.get(target.host_name, lambda: Host.objects.filter(name=target.host_name).first())
    role = access.role_for(who, host) if host is not None else None
    if host is None or role is None:
        # The same answer for a missing host and one the caller may not see, so names do not leak.
        raise AccessDenied(f"No host {target.host_name!r} is visible to you. {routing.USAGE}", not_found=True)
    return Resolved.of(who, host, role)


def admit(resolved: Resolved, request: EngineRequest) -> EngineRequest:
    """hosts.admission.admit for this call; returns the request to send (the body may be completed).

    Raises Refused (access or policy), or EngineError when the engine cannot answer an ownership question.
    """
    try:
        check_content_type(request.content_type)
        return admission.admit(resolved.who, resolved.host, request)
    except (AccessDenied, policy.Denied) as exc:
        raise Refused.of(exc, resolved) from exc
    except BadReference as exc:
        raise Refused(400, {"message": f"dockerweb gateway: {exc.message}"}, resolved) from exc


def resolve_and_admit(
    credentials: Credentials | bytes | None, target: routing.Target, content_type: str | None
) -> tuple[Resolved, EngineRequest]:
    """resolve() then admit() in one trip to the thread pool, for calls whose body admission need not see."""
    resolved = resolve(credentials, target)
    return resolved, admit(resolved, replace(target.request, content_type=content_type))


def json_body(body: bytes | None, content_type: str | None) -> Any:
    """The request body as JSON for the audit log, or None."""
    if not body:
        return None
    try:
        return policy.parse_json_body(body, content_type or "application/json")
    except (policy.Denied, ValueError):
        return None


@dataclass
class AuditNote:
    """What the relay learned about one audited call."""

    who: Caller | None
    host: Host | None
    endpoint: routing.Endpoint
    query: dict[str, list[str]]
    source_ip: str | None
    body: Any = None
    status: int | None = None
    outcome: Outcome | None = None
    detail: str = ""
    object_id: str = ""
    duration_ms: float | None = None
    # When the request started: rows are ordered by it. The relay should pass its request's start; by
    # default the note's creation, which still comes before anything the call sends to the engine.
    started_at: datetime = field(default_factory=timezone.now)

    def record(self) -> None:
        """Append the audit row (sync)."""
        status = self.status or 0
        outcome = self.outcome or audit.outcome_for_status(status or 502)
        audit.record(
            who=self.who,
            entry_point=EntryPoint.GATEWAY,
            action=self.endpoint.action,
            outcome=outcome,
            host=self.host,
            method=self.endpoint.method,
            path=routing.audit_path(self.endpoint, self.query),
            object_id=self.object_id or self.endpoint.object_ref,
            object_name=routing.object_name(self.endpoint, self.query),
            body=self.body,
            status_code=self.status,
            detail=self.detail[:2000],
            duration_ms=self.duration_ms,
            source_ip=self.source_ip,
            started_at=self.started_at,
        )


def learn_from_response(note: AuditNote, status: int, body: bytes) -> None:
    """Fill the created object's id, or the engine's error message, from a small JSON response."""
    note.status = status
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return
    if status >= 400:
        note.detail = str(data.get("message") or "")
    elif not note.endpoint.object_ref:
        note.object_id = str(data.get("Id") or data.get("Name") or "")


def audit_bad_target(
    credentials: Credentials | bytes | None,
    refused: routing.BadTarget,
    method: str,
    raw_target: bytes,
    source_ip: str | None,
    started_at: datetime,
) -> None:
    """Record a request line refused before routing (a non-canonical path or reference) as a denial, when
    its sender authenticates and may see the host; anonymous noise leaves no row."""
    try:
        who = authenticate(credentials)
        host = _hosts.get(refused.host_name, lambda: Host.objects.filter(name=refused.host_name).first())
    except Unauthorized:
        return
    if host is None or access.role_for(who, host) is None:
        return
    path = raw_target.decode("ascii", "replace").removeprefix(f"{routing.PREFIX}{refused.host_name}")
    audit.record(
        who=who,
        entry_point=EntryPoint.GATEWAY,
        action=f"engine.{method.lower()}",
        outcome=Outcome.DENIED,
        host=host,
        method=method,
        path=path[:2000],
        status_code=refused.status,
        detail=refused.message[:2000],
        source_ip=source_ip,
        started_at=started_at,
    )


def admit_load(resolved: Resolved, archive: IO[bytes]) -> None:
    """hosts.admission.admit_image_load for a `docker load` through the gateway; raises Refused."""
    try:
        admission.admit_image_load(resolved.who, resolved.host, archive)
    except (AccessDenied, policy.Denied) as exc:
        raise Refused.of(exc, resolved) from exc
    except BadReference as exc:
        raise Refused(400, {"message": f"dockerweb gateway: {exc.message}"}, resolved) from exc
