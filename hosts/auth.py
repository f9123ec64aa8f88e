"""Authentication by personal API token (`Authorization: Bearer <token>`) for REST and websockets."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from hosts.models import ApiToken


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


class BrowserOriginValidator:
    """Checks a websocket's Origin against ALLOWED_HOSTS when there is one.

    Browsers always send Origin, and a cross-site page riding on the session cookie is what the check is
    for; scripts and the CLI send none and authenticate with a bearer token, so they are let through.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        return await (self.checked if has_origin else self.inner)(scope, receive, send)


def WebsocketAuthMiddleware(inner: Any) -> Any:
    """Session auth for the browser, bearer tokens for everyone else (a token wins over a session)."""
    return AuthMiddlewareStack(_BearerWebsocketMiddleware(inner))
