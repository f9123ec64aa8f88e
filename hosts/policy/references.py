"""References inside bodies: volumes, networks and containers named in a create, connect or start.

A body names objects besides the one in the path: `Binds: ["data:/x"]` mounts the volume `data`,
`NetworkMode: "container:db"` joins the container `db`, `EndpointsConfig: {"backend": {"Aliases": ["api"]}}`
joins the network `backend` under the name `api`. Each of those is resolved through `Facts` and must be the
caller's (or their team's, or unowned on a host that shares unowned objects), at create and again where the
engine resolves it later (start and restart: `container:<x>` namespace modes, links and networks are looked
up by name or id then, and may by then name another team's object).

What an endpoint may claim on a network (documented rule, checked by `check_endpoint`):
- on the caller's own networks: aliases, static addresses (IPAMConfig) and a MAC address;
- on shared unowned networks and the predefined `bridge`/`none`: none of them (an alias or an address there
  can take over a name or an address another team's containers answer on);
- links name containers, which must be the caller's, on any network;
- endpoint driver options (`DriverOpts`, e.g. per-interface sysctls) are reserved for host admins.

Volumes a create names but the engine does not have yet are created *before* the container, by the caller's
Facts, with the caller's owner labels (the engine would create them without any): the same way for Binds and
Mounts, and only once every other check of the body has passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .base import Denied, as_list, as_map, as_str, as_strs, folded

OWNER_LABEL_PREFIX = "dockerweb.owner."
# The local driver's volume name rule (moby volume/local): names outside it are refused by the engine, and
# a name with '/' or dot segments must never reach a lookup path.
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# NetworkMode values that need no lookup (api/types/container: IsDefault, IsBridge, IsNone).
_PLAIN_NETWORK_MODES = frozenset({"", "default", "bridge", "none"})
# The networks the engine creates itself; a user cannot create a network of these names.
_PREDEFINED_NETWORKS = frozenset({"bridge", "none"})
_CONTAINER_PREFIX = "container:"


class Ownership(StrEnum):
    """Whose an engine object is, as far as the caller is concerned."""

    MINE = "mine"  # owner labels name the caller or one of their teams
    SHARED = "shared"  # no owner labels, on a host that shares unowned objects
    OTHERS = "others"  # another user's or team's, or unowned on a host that does not share them

    @property
    def usable(self) -> bool:
        """May the caller use the object (mount it, join it, link to it)?"""
        return self is not Ownership.OTHERS


@dataclass(frozen=True, slots=True)
class NetworkFacts:
    """A network as the engine resolved a reference to it."""

    name: str
    driver: str
    ownership: Ownership

    @property
    def predefined(self) -> bool:
        return self.name in _PREDEFINED_NETWORKS and self.driver in ("bridge", "null")

    @property
    def host(self) -> bool:
        return self.name == "host" or self.driver == "host"


class Facts(Protocol):
    """What the policy asks the caller about the engine; the policy never decides ownership itself."""

    def owns_container(self, ref: str) -> bool:
        """May the requester act on this container (full id, unique id prefix or name, no leading '/')?"""
        ...

    def owns_exec(self, exec_id: str) -> bool:
        """Does this exec instance belong to a container the requester owns?"""
        ...

    def volume_has_driver_opts(self, name: str) -> bool:
        """Is there an existing volume of this name created with driver options (or a non-local driver)?"""
        ...

    def container_ownership(self, ref: str) -> Ownership | None:
        """Whose the container is; None when the engine has no such container."""
        ...

    def container_inspect(self, ref: str) -> dict[str, Any] | None:
        """The container's inspect (Config, HostConfig, NetworkSettings); None when there is none."""
        ...

    def volume_ownership(self, name: str) -> Ownership | None:
        """Whose the volume is; None when the engine has no volume of this name."""
        ...

    def create_owned_volume(self, name: str, labels: dict[str, str]) -> Ownership:
        """Create the volume with `labels` and the caller's owner labels; the engine keeps an existing volume
        of that name as it is, so the answer is whose the volume is afterwards."""
        ...

    def network(self, ref: str) -> NetworkFacts | None:
        """The network a name, id or id prefix resolves to; None when the engine has none."""
        ...

    def tag_owned_by_others(self, reference: str) -> str | None:
        """Who else holds this tag (its image's owner labels, or containers created from it), or None."""
        ...

    def image_owned_by_others(self, reference: str) -> str | None:
        """The other owner the image's owner labels name, or None (the caller's, or no owner labels)."""
        ...


# -- owner labels


def is_owner_label(key: str) -> bool:
    """Is this label key one of dockerweb's owner labels (in any case)?"""
    return key.lower().startswith(OWNER_LABEL_PREFIX)


def refuse_owner_labels(keys: Iterable[str], field: str) -> None:
    """Deny a caller's attempt to set an owner label; only dockerweb sets them."""
    for key in keys:
        if is_owner_label(key):
            raise Denied(
                "owner-label",
                field,
                f"The label {key!r} is dockerweb's own: owner labels are set by dockerweb, not by callers.",
            )


# -- volumes


def check_volume_name(name: str, field: str) -> None:
    """Deny a volume name the local driver would refuse (and that must never reach a lookup)."""
    if not _VOLUME_NAME.fullmatch(name):
        raise Denied(
            "bad-volume-name",
            field,
            f"{name!r} is not a volume name (letters, digits, '_', '.', '-'; at least two characters).",
        )


def check_volume_use(name: str, field: str, facts: Facts) -> bool:
    """Deny a named volume (check_volume_name first) the caller may not mount; True when it does not exist
    yet (to be created)."""
    ownership = facts.volume_ownership(name)
    if ownership is None:
        return True
    if not ownership.usable:
        raise Denied(
            "volume-not-owned", field, f"Volume {name!r} is not yours; mount one of your own volumes."
        )
    return False


def create_missing_volumes(missing: dict[str, tuple[str, dict[str, str]]], facts: Facts) -> None:
    """Create the volumes a create body names that do not exist yet, owned by the caller.

    `missing` maps a volume name to (field, labels the body asked for). Call it only once every other check
    of the body has passed, so a refused create leaves nothing behind.
    """
    for name, (field, labels) in missing.items():
        if not facts.create_owned_volume(name, labels).usable:  # someone else created it in between
            raise Denied(
                "volume-not-owned", field, f"Volume {name!r} is not yours; mount one of your own volumes."
            )


# -- containers named in namespace modes, links and volumes-from


def container_mode_target(value: str) -> str | None:
    """The container a `container:<x>` mode names (None for other modes).

    dockerd (api/types/container containerID) splits at the first ':' and compares `container` exactly;
    this also reads `Container:x` as a container mode, refusing more rather than less.
    """
    if not value.lower().startswith(_CONTAINER_PREFIX):
        return None
    return value[len(_CONTAINER_PREFIX) :]


def check_container_ref(ref: str, field: str, rule: str, facts: Facts, what: str) -> None:
    """Deny a container reference the caller does not own (a missing one is not owned either)."""
    name = ref.removeprefix("/")
    if not name or not facts.owns_container(name):
        raise Denied(rule, field, f"{what} {ref!r}, a container that is not yours; name one of your own.")


def link_target(spec: str) -> str:
    """The container a link names: opts.ParseLink reads `name[:alias]` and `/name:/parent/alias`."""
    return spec.split(":", 1)[0].removeprefix("/")


# -- networks


def _network_or_deny(ref: str, field: str, facts: Facts) -> NetworkFacts:
    found = facts.network(ref)
    if found is None:
        raise Denied("network-not-found", field, f"There is no network {ref!r} you can use here.")
    if found.host:
        raise Denied(
            "host-namespace", field, f"{field}: {ref!r} is the host's network; this is reserved for admins."
        )
    if not found.predefined and not found.ownership.usable:
        raise Denied(
            "network-not-owned", field, f"Network {ref!r} is not yours; use one of your own networks."
        )
    return found


def check_namespace_mode(value: str, field: str, facts: Facts) -> None:
    """Deny `host` and `container:<x>` with x not owned, for any *Mode field or a build's networkmode."""
    if value.lower() == "host":
        raise Denied(
            "host-namespace", field, f"{field}=host shares the host's namespace; this is reserved for admins."
        )
    target = container_mode_target(value)
    if target is not None:
        check_container_ref(target, field, "namespace-not-owned", facts, f"{field} joins")


def check_network_mode(value: str, field: str, facts: Facts) -> None:
    """NetworkMode: `host` is denied, `container:<x>` needs x owned, a user-defined network must be usable."""
    if value in _PLAIN_NETWORK_MODES:
        return
    check_namespace_mode(value, field, facts)  # host, container:<x>
    if value.lower() != "host" and container_mode_target(value) is None:
        _network_or_deny(value, field, facts)


def check_endpoint(settings: dict[str, Any], field: str, network: NetworkFacts | None, facts: Facts) -> None:
    """What one endpoint (create's EndpointsConfig entry, connect's EndpointConfig) may claim on `network`
    (None: a NetworkMode word such as `default`, which is the predefined bridge)."""

    def get(name: str) -> Any:
        return folded_get(settings, name)

    own = network is not None and not network.predefined and network.ownership is Ownership.MINE
    for index, spec in enumerate(as_strs(get("Links"), f"{field}.Links")):
        check_container_ref(
            link_target(spec), f"{field}.Links[{index}]", "links-not-owned", facts, "A link to"
        )
    if as_map(get("DriverOpts"), f"{field}.DriverOpts"):
        raise Denied(
            "endpoint-driver-opts",
            f"{field}.DriverOpts",
            "Endpoint driver options (such as interface sysctls) are reserved for host admins.",
        )
    claims: list[str] = []
    if as_strs(get("Aliases"), f"{field}.Aliases"):
        claims.append("Aliases")
    ipam = as_map(get("IPAMConfig"), f"{field}.IPAMConfig")
    for name in ("IPv4Address", "IPv6Address"):
        if as_str(folded_get(ipam, name), f"{field}.IPAMConfig.{name}"):
            claims.append(f"IPAMConfig.{name}")
    if as_strs(folded_get(ipam, "LinkLocalIPs"), f"{field}.IPAMConfig.LinkLocalIPs"):
        claims.append("IPAMConfig.LinkLocalIPs")
    if as_str(get("MacAddress"), f"{field}.MacAddress"):
        claims.append("MacAddress")
    if claims and not own:
        where = "a network that is not yours" if network is not None else "the default network"
        raise Denied(
            "endpoint-claim",
            f"{field}.{claims[0]}",
            f"{claims[0]} on {where} could take a name or an address other teams' containers use; "
            "aliases, static addresses and MAC addresses are for your own networks.",
        )


def check_endpoints(networking: dict[str, Any], field: str, facts: Facts) -> None:
    """A create's NetworkingConfig: every network named must be usable, each endpoint's claims allowed."""
    endpoints = as_map(folded_get(networking, "EndpointsConfig"), f"{field}.EndpointsConfig")
    for ref, value in endpoints.items():
        endpoint_field = f"{field}.EndpointsConfig.{ref}"
        settings = as_map(value, endpoint_field)
        network = None if ref in _PLAIN_NETWORK_MODES else _network_or_deny(ref, endpoint_field, facts)
        check_endpoint(settings, endpoint_field, network, facts)


def check_connect(network_ref: str, body: dict[str, Any], facts: Facts) -> None:
    """`POST /networks/{id}/connect`: the container must be the caller's, the endpoint's claims allowed."""
    container = as_str(folded_get(body, "Container"), "Container")
    check_container_ref(container, "Container", "container-not-owned", facts, "Connecting")
    network = _network_or_deny(network_ref, "network", facts)
    check_endpoint(
        as_map(folded_get(body, "EndpointConfig"), "EndpointConfig"), "EndpointConfig", network, facts
    )


def folded_get(obj: dict[str, Any], name: str) -> Any:
    """obj[name] matched as Go's encoding/json matches a field name; None when absent."""
    key = folded(obj).get(name.lower())
    return None if key is None else obj[key]


# -- start and restart: what the engine resolves again


_START_MODES = ("NetworkMode", "PidMode", "IpcMode", "Cgroup")


def check_start_references(container_ref: str, facts: Facts) -> None:
    """`POST /containers/{id}/start` and `/restart`: the references the engine resolves again by name or id.

    The container may have been made by someone the policy did not hold back (a host admin of the same team,
    a former member), or with a reference that was the caller's then: starting it would join another team's
    namespaces or read their environment through a link. Links are stored by name (and found again by name
    when the engine restarts), and a network by id or name, which another team may hold by now. A reference
    that resolves to nothing is left to the engine (it fails the start itself). VolumesFrom is resolved
    once, at create, and a volume in use cannot be removed, so neither is looked up again.
    """
    inspect = facts.container_inspect(container_ref.removeprefix("/"))
    if inspect is None:
        return  # the engine answers its own 404
    host_config = as_map(inspect.get("HostConfig"), "HostConfig")
    for name in _START_MODES:
        target = container_mode_target(str(host_config.get(name) or ""))
        if target is not None:
            _check_still_usable(target.removeprefix("/"), f"HostConfig.{name}", facts)
    for index, spec in enumerate(as_list(host_config.get("Links"), "HostConfig.Links")):
        _check_still_usable(link_target(str(spec)), f"HostConfig.Links[{index}]", facts)
    settings = as_map(inspect.get("NetworkSettings"), "NetworkSettings")
    for name, endpoint in as_map(settings.get("Networks"), "NetworkSettings.Networks").items():
        if name in _PLAIN_NETWORK_MODES or name == "host":
            continue
        endpoint = as_map(endpoint, name)
        # Links on a user-defined network live in its endpoint, stored by name.
        for index, spec in enumerate(as_list(endpoint.get("Links"), "Links")):
            _check_still_usable(
                link_target(str(spec)), f"NetworkSettings.Networks.{name}.Links[{index}]", facts
            )
        endpoint_id = str(endpoint.get("NetworkID") or "")
        # dockerd's getNetworkID: a user-defined network is found by its stored id first.
        found = (facts.network(endpoint_id) if endpoint_id else None) or facts.network(name)
        if found is not None and not found.predefined and not found.ownership.usable:
            raise Denied(
                "network-not-owned",
                f"NetworkSettings.Networks.{name}",
                f"This container is attached to network {name!r}, which is not yours now; "
                "disconnect it or ask a host admin.",
            )


def _check_still_usable(ref: str, field: str, facts: Facts) -> None:
    ownership = facts.container_ownership(ref) if ref else None
    if ownership is not None and not ownership.usable:
        raise Denied(
            "reference-not-owned",
            field,
            f"This container refers to {ref!r} ({field}), which is now a container that is not yours; "
            "re-create it with a reference to one of your own.",
        )
