"""Authentication by personal API token (`Authorization: Bearer <token>`) for REST and websockets."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.utils.http import is_same_domain
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from hosts.live import CloseCode
from hosts.models import ApiToken

logger = logging.getLogger(__name__)

ORIGIN_REFUSED = CloseCode.FORBIDDEN  # the websocket close code of a refused origin
ORIGIN_REFUSED_REASON = "The page's origin is not this site: open the dashboard at its own address."


def token_from_header(value: str | bytes | None) -> str | None:
    """The token in an `Authorization: Bearer ...` value, or None when the header is not a bearer one."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def authenticate_token(plaintext: str) -> ApiToken | None:
    """The active token of an active user matching `plaintext`; records its use."""
    token = ApiToken.find(plaintext)
    if token is None or not token.user.is_active:
        return None
    token.touch()
    return token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication by personal API token."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        plaintext = token_from_header(header)
        if plaintext is None:
            return None
        if not plaintext:
            raise exceptions.AuthenticationFailed("The Authorization header has no token after 'Bearer'.")
        token = authenticate_token(plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="dockerweb"'


class _BearerWebsocketMiddleware(BaseMiddleware):
    """Puts the token's user in the scope when a non-browser client sends `Authorization: Bearer`."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        plaintext = token_from_header(headers.get(b"authorization"))
        if plaintext:
            token = await database_sync_to_async(authenticate_token)(plaintext)
            if token is not None:
                scope = {**scope, "user": token.user, "token": token}
        return await super().__call__(scope, receive, send)


class _HandshakeRequest(HttpRequest):
    """A websocket handshake seen as Django sees an HTTP request: host and scheme by the same settings
    (ALLOWED_HOSTS, USE_X_FORWARDED_HOST, SECURE_PROXY_SSL_HEADER)."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__()
        self.websocket_scheme = str(scope.get("scheme") or "ws")
        server = scope.get("server") or ("unknown", "0")
        self.META["SERVER_NAME"], self.META["SERVER_PORT"] = str(server[0]), str(server[1])
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            # Repeated headers are joined as an HTTP server would; an ambiguous Host then fails validation.
            value = raw_value.decode("latin-1")
            key = f"HTTP_{name}"
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value

    def _get_scheme(self) -> str:
        return "https" if self.websocket_scheme in ("wss", "https") else "http"


def origin_allowed(request: HttpRequest, origin: str) -> bool:
    """Whether `origin` is the request's own (scheme, host and port, as Django's CSRF check compares it) or
    one of CSRF_TRUSTED_ORIGINS (exact, or `scheme://*.domain` for its subdomains)."""
    try:
        own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    except DisallowedHost:
        own = None
    if origin == own:
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    for pattern in trusted:
        if "*" not in pattern:
            continue
        allowed = urlsplit(pattern)
        if allowed.scheme == parts.scheme and is_same_domain(parts.netloc, allowed.netloc.lstrip("*")):
            return True
    return False


class BrowserOriginValidator:
    """Lets a websocket in only from the dashboard's own origin when it carries an Origin header.

    Browsers always send Origin, and a page of another origin riding on the session cookie is what the
    check is for. An origin is scheme + host + port: cookies do not know ports, so another port of the same
    host name (or http instead of https) is another site. Scripts and the CLI send no Origin and
    authenticate with a bearer token, so they are let through. A refused handshake is closed before it is
    accepted (the browser sees the refusal, the page learns nothing).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origins = [value for name, value in scope.get("headers", []) if name.lower() == b"origin"]
        if not origins:
            return await self.inner(scope, receive, send)
        origin = origins[0].decode("latin-1")
        if len(origins) == 1 and origin_allowed(_HandshakeRequest(scope), origin):
            return await self.inner(scope, receive, send)
        logger.warning("websocket %s refused: Origin %r is not this site's", scope.get("path"), origin)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": ORIGIN_REFUSED, "reason": ORIGIN_REFUSED_REASON})


def WebsocketAuthMiddleware(inner: Any) -> Any:
    """Session auth for the browser, bearer tokens for everyone else (a token wins over a session)."""
    return AuthMiddlewareStack(_BearerWebsocketMiddleware(inner))
