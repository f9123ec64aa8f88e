"""What a caller may see: the one visibility layer REST, websockets and the gateway all ask.

Modelled on NetBox's `restrict(user, action)`: a `Scope` is what one caller may see on one host, worked out
once (their role, their teams) and then asked about each object without another query, so it can be used on
an event loop. The rules:

- hosts: those the caller has a role on (`visible_hosts`).
- containers, networks, volumes: everything for the host's admins; below admin, the caller's own and their
  teams' objects, and unowned ones where the host shares them (`hosts.access.owns` on the owner labels).
- images carry no owner: every viewer of a host sees all its images, but of the containers using an image
  only the ones they may see (`Scope.sees` on each container).
- a network's inspect lists its containers: below admin only the visible ones (`Scope.network`).
- secrets: environment values (inspect, and process listings through `top`) need VIEW_SECRETS.
- events, by their Type: a container event by the container's labels (its Attributes carry them); a
  network or volume event by the labels of the network or volume, looked up on the engine (the Attributes
  carry only name and type), and of the container it names if any (connect, disconnect, mount, unmount:
  both must be visible, or a shared network would show other teams' containers); image events for every
  viewer of the host; daemon, plugin, builder and swarm events describe the host's configuration, for
  admins only.
- jobs: a caller's own, and every job on hosts they administer (`restrict_jobs`).
- registries are dockerweb's own rows, shared with teams: images.models.Registry.objects.usable_by.

Owner labels (`dockerweb.owner.*`) are dockerweb's business: the gateway strips them from what it relays
(`strip_owner_labels`), after the filtering that needed them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeVar
from urllib.parse import quote

from django.db.models import Model, Q, QuerySet

from hosts.access import MINIMUM_ROLE, AccessDenied, Action, Caller, _grants_of, role_for
from hosts.access import owns as _owns
from hosts.models import Host, Role
from hosts.policy import OWNER_USER_LABEL

Labels = dict[str, str] | None
T = TypeVar("T")
M = TypeVar("M", bound=Model)

# "dockerweb.owner.": the namespace of the owner labels hosts.policy puts on objects (user, team).
OWNER_LABEL_PREFIX = OWNER_USER_LABEL.rpartition(".")[0] + "."
HIDDEN = "[hidden]"  # in place of the values callers without VIEW_SECRETS may not read

# Events every viewer of the host sees; owned kinds are decided by an owner; any other Type is for admins.
HOST_WIDE_EVENTS = frozenset({"image"})
OWNED_EVENTS = frozenset({"container", "network", "volume"})
# `ps` arguments (dockerd runs the host's procps `ps` with them) that never print environments, compared
# as the whole string: BSD `e` (`ps e`, `eww`, `aux e`) and output formats (`-o pid,environ`) are out.
SAFE_PS_ARGS = frozenset({"", "-ef", "-eF", "-ely", "-A", "aux", "ax"})


# Hosts


def visible_hosts(who: Caller) -> QuerySet[Host]:
    """The hosts the caller may see, as a queryset."""
    if not who.active:
        return Host.objects.none()
    if who.is_superuser:
        hosts = Host.objects.all()
    else:
        grants = list(_grants_of(who.user))
        condition = Q(pk__in=[g.host_id for g in grants if g.host_id is not None])
        for grant in grants:
            if grant.host_id is None:
                key, sep, value = grant.host_label.partition("=")
                condition |= _label_q(key, value if sep else None)
        hosts = Host.objects.filter(condition)
    if who.token is not None and who.token.scope_hosts:
        patterns = who.token.scope_hosts
        names = [
            name
            for name in hosts.values_list("name", flat=True)
            if any(fnmatchcase(name, p) for p in patterns)
        ]
        hosts = hosts.filter(name__in=names)
    return hosts


def _label_q(key: str, value: str | None) -> Q:
    if "__" in key:  # would turn into an ORM lookup; grants refuse such keys, this is belt and braces
        return Q(pk__in=[])
    return Q(labels__has_key=key) if value is None else Q(**{f"labels__{key}": value})


def admin_host_ids(who: Caller, hosts: Iterable[Host] | None = None) -> list[int]:
    """The ids of the hosts (default: all visible ones) the caller administers."""
    hosts = visible_hosts(who) if hosts is None else hosts
    return [host.pk for host in hosts if role_for(who, host) is Role.ADMIN]


def restrict_jobs(who: Caller, jobs: QuerySet[M]) -> QuerySet[M]:
    """`jobs` (a queryset of a model with `user` and `host`) cut to the caller's own, and every job on hosts
    they administer."""
    if not who.active:
        return jobs.none()
    hosts = visible_hosts(who)
    return jobs.filter(host__in=hosts).filter(Q(user=who.user) | Q(host_id__in=admin_host_ids(who, hosts)))


# Objects on one host


@dataclass(frozen=True)
class Scope:
    """What one caller may see on one host. `of()` queries the database (call it in a thread); the methods
    then answer from memory."""

    who: Caller
    host: Host
    role: Role | None

    @classmethod
    def of(cls, who: Caller, host: Host) -> Scope:
        """The caller's scope on `host` (their role and team names loaded now)."""
        role = role_for(who, host)
        if role is not None and role is not Role.ADMIN:
            who.team_names  # noqa: B018 - loaded now, so that `sees` runs no query later
        return cls(who, host, role)

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def secrets(self) -> bool:
        """Whether the caller reads environment values (inspect, process listings)."""
        needed = MINIMUM_ROLE[Action.VIEW_SECRETS]
        return self.role is not None and self.role.rank >= needed.rank

    def sees(self, labels: Labels) -> bool:
        """Whether the caller may see an owned object (container, network, volume) with these labels."""
        if self.role is None:
            return False
        return self.admin or _owns(self.who, self.host, labels)

    def restrict(self, items: Iterable[T], labels: Callable[[T], Labels]) -> list[T]:
        """The items the caller may see, `labels(item)` giving each one's labels."""
        return [item for item in items if self.sees(labels(item))]

    def sees_event(self, event: Mapping[str, Any], owners: Sequence[Labels]) -> bool:
        """Whether the caller may see an engine event; `owners` is event_owners(event, ...)."""
        return self.role is not None and event_visible(event, owners, self.sees, admin=self.admin)

    def container(self, inspect: dict[str, Any]) -> dict[str, Any]:
        """A container's inspect as the caller may read it: environment values hidden without VIEW_SECRETS."""
        if not self.secrets:
            hide_environment(inspect)
        return inspect

    def network(self, inspect: dict[str, Any], member_labels: Mapping[str, Labels]) -> dict[str, Any]:
        """A network's inspect as the caller may read it: of its `Containers` (by id), below admin only the
        visible ones; `member_labels` maps container ids to their labels (a missing id is not shown)."""
        members = inspect.get("Containers")
        if not self.admin and isinstance(members, dict):
            inspect["Containers"] = {
                ref: member
                for ref, member in members.items()
                if ref in member_labels and self.sees(member_labels[ref])
            }
        return inspect


def can_see_object(who: Caller, host: Host, labels: Labels) -> bool:
    """Lists and inspect below admin show the caller's own objects (and unowned ones where shared)."""
    return Scope.of(who, host).sees(labels)


def hide_environment(inspect: dict[str, Any]) -> None:
    """Blank the environment values of a container's or an image's inspect (names stay: they tell what is
    configured). An image committed from a container keeps that container's environment."""
    for key in ("Config", "ContainerConfig"):
        config = inspect.get(key)
        if isinstance(config, dict) and config.get("Env"):
            config["Env"] = [f"{str(entry).partition('=')[0]}={HIDDEN}" for entry in config["Env"]]


def check_top_arguments(ps_args: str | None, *, secrets: bool) -> None:
    """Raise AccessDenied when `ps_args` could print process environments (`ps e`, `eww`, `-o environ`...)
    and the caller may not read secrets; only a few plain listings are allowed then."""
    if secrets or ps_args is None or ps_args in SAFE_PS_ARGS:
        return
    allowed = ", ".join(repr(args) for args in sorted(SAFE_PS_ARGS) if args)
    raise AccessDenied(
        f"ps_args {ps_args!r} may show process environments, which your role does not read; "
        f"use no ps_args or one of {allowed}."
    )


def check_top_query(query: Mapping[str, list[str]], *, secrets: bool) -> None:
    """check_top_arguments for the query of `GET /containers/{id}/top`: every `ps_args` value (dockerd
    reads the first; checking all of them leaves none unchecked)."""
    for ps_args in query.get("ps_args", []):
        check_top_arguments(ps_args, secrets=secrets)


# Engine events


Subject = tuple[str, str]  # (kind, reference): kind "containers", "networks" or "volumes"


def event_owner_labels(event: Mapping[str, Any]) -> Labels:
    """The owner labels an event carries itself: a container event's Attributes are the container's
    labels. None for other events (see event_lookups)."""
    if event.get("Type") != "container":
        return None
    return _attributes(event)


def event_lookups(event: Mapping[str, Any]) -> tuple[Subject, ...]:
    """The objects whose labels decide who sees a network or volume event, to look up on the engine: the
    network or volume itself, and the container a connect, disconnect, mount or unmount names."""
    kind = event.get("Type")
    if kind not in ("network", "volume"):
        return ()
    actor = event.get("Actor")
    ref = str(actor.get("ID") or "") if isinstance(actor, dict) else ""
    container = _attributes(event).get("container")
    subjects = [(f"{kind}s", ref)] if ref else []
    return tuple([*subjects, ("containers", container)] if container else subjects)


def event_owners(event: Mapping[str, Any], looked_up: Mapping[Subject, Labels]) -> list[Labels]:
    """The owner labels that decide `event`: its own for a container event, else those of each object
    event_lookups(event) names, from `looked_up` (None for an object that is gone)."""
    own = event_owner_labels(event)
    if own is not None:
        return [own]
    return [looked_up.get(subject) for subject in event_lookups(event)]


def _attributes(event: Mapping[str, Any]) -> dict[str, str]:
    actor = event.get("Actor")
    attributes = actor.get("Attributes") if isinstance(actor, dict) else None
    if not isinstance(attributes, dict):
        return {}
    return {str(key): str(value) for key, value in attributes.items()}


def event_visible(
    event: Mapping[str, Any], owners: Sequence[Labels], sees: Callable[[Labels], bool], *, admin: bool
) -> bool:
    """The one rule for engine events, whatever stream carries them (see the module docstring).

    `owners` is event_owners(event, ...): an owned event is shown when the caller `sees` every one of
    them (a connect to a shared network names a container, which may be another team's); `admin` sees
    everything."""
    if admin:
        return True
    kind = event.get("Type")
    if kind in HOST_WIDE_EVENTS:
        return True
    if kind in OWNED_EVENTS:
        return bool(owners) and all(owner is not None and sees(owner) for owner in owners)
    return False


def inspect_path(kind: str, ref: str) -> str:
    """The engine path of an object's inspect, for kind "containers", "networks" or "volumes"."""
    path = f"/{kind}/{quote(ref, safe='')}"
    return path + "/json" if kind == "containers" else path


def labels_in(kind: str, inspect: Any) -> Labels:
    """The labels in an object's inspect (kind as for inspect_path); None if it is not one."""
    if not isinstance(inspect, dict):
        return None
    holder = inspect.get("Config") if kind == "containers" else inspect
    if not isinstance(holder, dict):
        return None
    labels = holder.get("Labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


# Owner labels are dockerweb's


def is_owner_label(key: str) -> bool:
    return key.startswith(OWNER_LABEL_PREFIX)


def strip_owner_labels(labels: MutableMapping[str, Any] | None) -> bool:
    """Remove dockerweb's owner labels from `labels` in place; True when there were any."""
    if not isinstance(labels, MutableMapping):
        return False
    owned = [key for key in labels if isinstance(key, str) and is_owner_label(key)]
    for key in owned:
        del labels[key]
    return bool(owned)
