"""Who may do what: the one module every entry point asks (REST, websockets, jobs, the gateway).

A user's role on a host is the strongest of their grants: to them or to one of their teams, on the host or
on a label the host carries. Superusers are admin everywhere. A token can narrow both: to host name
patterns (`staging-*`) and to a maximum role. Objects on an engine (containers, networks, volumes) carry
owner labels; below admin, a user acts on their own and their teams' objects, and on unowned objects only
where the host allows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any, Protocol

from django.db.models import Q, QuerySet

from hosts.models import ApiToken, ClientCertificate, Grant, Host, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL


class Action(StrEnum):
    """What a caller wants to do on a host; each needs a minimum role."""

    VIEW = "view"  # the host, its containers, images, logs, stats; inspect without environment values
    VIEW_SECRETS = "view_secrets"  # environment values in inspect
    OPERATE = "operate"  # start, stop, restart, kill, pause, remove, rename, archive
    CREATE = "create"  # create and run containers, networks, volumes (within the admission policy)
    EXEC = "exec"  # exec consoles and attach
    IMAGES = "images"  # pull, build, push, commit, tag, remove images
    ADMIN = "admin"  # host settings, and what the policy holds back from others
    MANAGE_INVENTORY = "manage_inventory"  # add or remove hosts, teams and grants (superusers)


MINIMUM_ROLE = {
    Action.VIEW: Role.VIEWER,
    Action.VIEW_SECRETS: Role.OPERATOR,
    Action.OPERATE: Role.OPERATOR,
    Action.CREATE: Role.OPERATOR,
    Action.EXEC: Role.OPERATOR,
    Action.IMAGES: Role.OPERATOR,
    Action.ADMIN: Role.ADMIN,
}


class AccessDenied(Exception):
    """The caller may not do `action` on `host`; the message says what was refused and why."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # A host the caller may not even see is reported as missing, so names do not leak.
        self.not_found = not_found


class Credential(Protocol):
    """What a caller authenticated with besides a session: an API token or a gateway client certificate.
    Both carry the same limits, read here and nowhere else."""

    pk: Any
    name: str
    scope_hosts: list[str]
    max_role: str
    expires_at: Any
    default_host: Host | None

    @property
    def audit_name(self) -> str:
        """How audit rows name it."""
        ...


@dataclass(eq=False)
class Caller:
    """A user, and the token or client certificate they authenticated with (None for a session)."""

    user: Any
    token: Credential | None = None
    # Roles already worked out, by host id: a list of 500 containers asks once per host, not 500 times.
    roles: dict[int, Role | None] = field(default_factory=dict, repr=False)

    @cached_property
    def team_names(self) -> frozenset[str]:
        if not self.active:
            return frozenset()
        return frozenset(Team.objects.filter(members=self.user).values_list("name", flat=True))

    @property
    def active(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated and self.user.is_active)

    @property
    def is_superuser(self) -> bool:
        return self.active and bool(self.user.is_superuser)


def caller(user: Any, token: Any = None) -> Caller:
    """The Caller for a request's user and auth (DRF's request.auth, a websocket scope's token, the gateway's
    token or client certificate)."""
    return Caller(user, token if isinstance(token, (ApiToken, ClientCertificate)) else None)


def _grants_of(user: Any) -> QuerySet[Grant]:
    return Grant.objects.filter(Q(user=user) | Q(team__members=user)).select_related("team")


def _strongest(roles: list[Role]) -> Role | None:
    return max(roles, key=lambda role: role.rank) if roles else None


def _token_allows(token: Credential | None, host: Host) -> bool:
    return token is None or not token.scope_hosts or any(fnmatchcase(host.name, p) for p in token.scope_hosts)


def _cap(role: Role | None, token: Credential | None) -> Role | None:
    if role is None or token is None or not token.max_role:
        return role
    ceiling = Role(token.max_role)
    return role if role.rank <= ceiling.rank else ceiling


def role_for(who: Caller, host: Host) -> Role | None:
    """The caller's role on `host`, or None when they may not see it (worked out once per Caller)."""
    if host.pk not in who.roles:
        who.roles[host.pk] = _role_for(who, host)
    return who.roles[host.pk]


def _role_for(who: Caller, host: Host) -> Role | None:
    if not who.active or not _token_allows(who.token, host):
        return None
    if who.is_superuser:
        return _cap(Role.ADMIN, who.token)
    granted = [Role(grant.role) for grant in _grants_of(who.user) if grant.matches(host)]
    return _cap(_strongest(granted), who.token)


def can_view_host(who: Caller, host: Host) -> bool:
    return role_for(who, host) is not None


def can_manage_inventory(who: Caller) -> bool:
    """May add or remove hosts and manage teams and grants (superusers, unless a token caps them)."""
    return (
        who.is_superuser
        and _cap(Role.ADMIN, who.token) is Role.ADMIN
        and not (who.token and who.token.scope_hosts)
    )


def can_manage_grants(who: Caller, host: Host | None) -> bool:
    """May add, change or remove grants on `host` (None: a grant on a label, which spans hosts): inventory
    admins anywhere, a host's admins on that host only."""
    if can_manage_inventory(who):
        return True
    return host is not None and role_for(who, host) is Role.ADMIN


def grant_hosts(who: Caller) -> QuerySet[Host]:
    """The hosts whose grants the caller manages (every host for inventory admins)."""
    if can_manage_inventory(who):
        return Host.objects.all()
    from hosts import visibility  # visibility builds on this module's roles: imported when first used

    return Host.objects.filter(pk__in=visibility.admin_host_ids(who))


def require(who: Caller, host: Host | None, action: Action) -> Role | None:
    """Raise AccessDenied unless the caller may do `action` on `host`; returns their role there."""
    if action is Action.MANAGE_INVENTORY:
        if host is not None and not can_view_host(who, host):
            raise AccessDenied(f"No host {host.name!r} is visible to you.", not_found=True)
        if not can_manage_inventory(who):
            target = f"host {host.name!r}" if host is not None else "the host inventory"
            raise AccessDenied(f"Only administrators may change {target}.")
        return role_for(who, host) if host is not None else None
    assert host is not None, f"{action} needs a host"
    role = role_for(who, host)
    if role is None:
        raise AccessDenied(f"No host {host.name!r} is visible to you.", not_found=True)
    needed = MINIMUM_ROLE[action]
    if role.rank < needed.rank:
        via = " (your token is limited to that role)" if who.token and who.token.max_role else ""
        raise AccessDenied(
            f"Your role on host {host.name!r} is {role.value}{via}; {action.value} needs {needed.value}."
        )
    return role


def policy_applies(who: Caller, host: Host) -> bool:
    """The admission policy holds for everyone below admin on the host."""
    role = role_for(who, host)
    return role is None or role is not Role.ADMIN


def owner_team(who: Caller, host: Host) -> Team | None:
    """The team named on objects the caller creates on `host`: the first of their teams granted there."""
    if not who.active:
        return None
    for grant in _grants_of(who.user).filter(team__isnull=False).order_by("team__name"):
        if grant.matches(host) and grant.team is not None:
            return grant.team
    return Team.objects.filter(members=who.user).order_by("name").first()


def owner_labels(who: Caller, host: Host) -> dict[str, str]:
    """The owner labels to put on an object the caller creates on `host`."""
    labels = {OWNER_USER_LABEL: who.user.get_username()}
    team = owner_team(who, host)
    if team is not None:
        labels[OWNER_TEAM_LABEL] = team.name
    return labels


def owns(who: Caller, host: Host, labels: dict[str, str] | None) -> bool:
    """Whether an object with these labels is the caller's or their team's (or shared on this host)."""
    labels = labels or {}
    # Objects created through dockerweb always carry both labels (the team one empty without a team).
    user, team = labels.get(OWNER_USER_LABEL), labels.get(OWNER_TEAM_LABEL)
    if not user and not team:
        return host.unowned_access
    if who.active and user == who.user.get_username():
        return True
    return bool(team) and team in who.team_names


def may_act_on(
    who: Caller, host: Host, labels: dict[str, str] | None, action: Action = Action.OPERATE
) -> None:
    """Raise AccessDenied unless the caller may do `action` on an object with these labels."""
    role = require(who, host, action)
    if role is Role.ADMIN or owns(who, host, labels):
        return
    owner = (labels or {}).get(OWNER_TEAM_LABEL) or (labels or {}).get(OWNER_USER_LABEL)
    if owner is None:
        raise AccessDenied(
            f"This object on host {host.name!r} has no owner, and the host does not share unowned objects."
        )
    raise AccessDenied(f"This object on host {host.name!r} belongs to {owner!r}, not to you or your teams.")
