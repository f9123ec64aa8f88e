"""Who may do what: the one module every entry point asks (REST, websockets, jobs, the gateway).

The foundation knows two kinds of users: superusers, who manage the inventory and act on every host, and
everyone else, who sees no host until a grant gives them one (teams and per-host roles build on this).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import QuerySet

from hosts.models import Host


class Action(StrEnum):
    VIEW = "view"  # see the host, its snapshot, info and ping
    MANAGE = "manage"  # add, change, remove or refresh inventory entries


class AccessDenied(Exception):
    """The user may not do `action` on `host`; the message says what was refused."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # A host the user may not even see is reported as missing, so names do not leak.
        self.not_found = not_found


def _is_active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_hosts(user: Any) -> QuerySet[Host]:
    """The hosts `user` may see."""
    if _is_active(user) and user.is_superuser:
        return Host.objects.all()
    return Host.objects.none()


def can_view_host(user: Any, host: Host) -> bool:
    return visible_hosts(user).filter(pk=host.pk).exists()


def can_manage_inventory(user: Any) -> bool:
    """May add hosts, import contexts and change or remove any inventory entry."""
    return _is_active(user) and bool(user.is_superuser)


def require(user: Any, host: Host | None, action: Action) -> None:
    """Raise AccessDenied unless `user` may do `action` on `host` (None: on the inventory as a whole)."""
    if host is not None and not can_view_host(user, host):
        raise AccessDenied(f"No host {host.name!r} is visible to you.", not_found=True)
    if action is Action.MANAGE and not can_manage_inventory(user):
        target = f"host {host.name!r}" if host is not None else "the host inventory"
        raise AccessDenied(f"Only administrators may change {target}.")
