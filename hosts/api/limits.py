"""The limits of credentials made through the REST API — API tokens and gateway client certificates: host
patterns, a maximum role and a default host. A credential made with a limited token is never wider than
that token, so a limited token cannot mint an unlimited one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from hosts import access, visibility
from hosts.models import Host, Role


@extend_schema_field({"type": "string", "enum": ["", *Role.values]})  # inline: Role's set has its name
class RoleCeilingField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, allow_blank=True, **kwargs)


def within_token(who: access.Caller, scope_hosts: list[str] | None, max_role: str) -> tuple[list[str], str]:
    """The requested host patterns and role ceiling, within those of the token the request came with
    (unset ones inherit the token's)."""
    token = who.token
    scope = list(scope_hosts or [])
    if token is not None and token.scope_hosts:
        if not scope:
            scope = list(token.scope_hosts)
        elif not set(scope) <= set(token.scope_hosts):
            raise exceptions.ValidationError(
                {"scope_hosts": f"Your token is limited to {token.scope_hosts}; choose among those patterns."}
            )
    if token is not None and token.max_role:
        ceiling = Role(token.max_role)
        if not max_role:
            max_role = ceiling.value
        elif Role(max_role).rank > ceiling.rank:
            raise exceptions.ValidationError(
                {
                    "max_role": f"Your token is limited to {ceiling.value}; "
                    "a credential it makes cannot be stronger."
                }
            )
    return scope, max_role


def expiry_within_token(who: access.Caller, expires_at: datetime | None) -> datetime | None:
    """The requested expiry, no later than that of the token the request came with."""
    token = who.token
    if token is None or token.expires_at is None:
        return expires_at
    if expires_at is None:
        return token.expires_at
    if expires_at > token.expires_at:
        raise exceptions.ValidationError(
            {
                "expires_at": f"Your token expires at {token.expires_at:%Y-%m-%d %H:%M} UTC; "
                "a credential it makes cannot outlive it."
            }
        )
    return expires_at


def default_host(subject: Any, who: access.Caller, name: str | None) -> Host | None:
    """The host named as a credential's default (BuildKit's path-less calls through the gateway): visible
    both to the credential's user and to whoever makes it; one answer for missing and hidden."""
    if not name:
        return None
    host = visibility.visible_hosts(access.caller(subject)).filter(name=name).first()
    if host is None or not access.can_view_host(who, host):
        raise exceptions.ValidationError({"default_host": f"No host {name!r} is visible to you."})
    return host
