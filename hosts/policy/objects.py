"""Checks on volumes, networks, builds and image imports, and the ownership labels."""

from __future__ import annotations

from typing import Any

from .base import Denied, as_map, as_str, folded, is_set_bool, query_values
from .containers import CPU_PERIOD_DEFAULT, Facts, check_security_opt
from .references import check_network_mode, refuse_owner_labels
from .settings import PolicySettings

OWNER_USER_LABEL = "dockerweb.owner.user"
OWNER_TEAM_LABEL = "dockerweb.owner.team"

_DENIED_NETWORK_DRIVERS = frozenset({"host", "macvlan", "ipvlan"})
# The bridge driver adopts an existing interface of this name: a host bridge (br0 on the LAN, docker0)
# would put the user's containers on that segment.
_BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


def check_volume_create(body: dict[str, Any]) -> None:
    """`POST /volumes/create`: no driver options, and only the local driver.

    Options of the local driver mount anything (`type=none,o=bind,device=/`); another driver is a plugin an
    admin installed, whose options the policy cannot judge, so a non-admin gets the local driver only.
    """
    view = folded(body)
    driver = as_str(body[view["driver"]], "Driver") if "driver" in view else ""
    if driver.lower() not in ("", "local"):
        raise Denied(
            "volume-driver", "Driver", f"Volume driver {driver!r} is not allowed; use the local driver."
        )
    options = as_map(body[view["driveropts"]], "DriverOpts") if "driveropts" in view else {}
    if options:
        raise Denied(
            "no-volume-driver-opts",
            "DriverOpts",
            f"Volume driver options ({', '.join(sorted(options))}) can mount host paths; "
            "create the volume without --opt.",
        )
    if "clustervolumespec" in view and body[view["clustervolumespec"]] is not None:
        raise Denied("no-swarm", "ClusterVolumeSpec", "Cluster (swarm) volumes are reserved for admins.")


def check_network_create(body: dict[str, Any]) -> None:
    """`POST /networks/create`: no host/macvlan/ipvlan driver, no adopted bridge, no config networks.

    ConfigOnly networks hold settings (such as a macvlan parent interface) that ConfigFrom networks reuse;
    both are how an admin prepares such networks, so neither is open to non-admins. Ingress is swarm's.
    """
    view = folded(body)

    def get(name: str) -> Any:
        key = view.get(name.lower())
        return None if key is None else body[key]

    driver = as_str(get("Driver"), "Driver")
    if driver.lower() in _DENIED_NETWORK_DRIVERS:
        raise Denied(
            "network-driver",
            "Driver",
            f"Network driver {driver!r} attaches containers to the host's network; use bridge.",
        )
    for name in ("ConfigOnly", "Ingress"):
        if is_set_bool(get(name), name):
            raise Denied("network-config", name, f"{name} networks are reserved for admins.")
    config_from = as_map(get("ConfigFrom"), "ConfigFrom")
    if any(config_from.values()):
        raise Denied("network-config", "ConfigFrom", "Networks built from a config network are for admins.")
    for option in as_map(get("Options"), "Options"):
        if option.lower() == _BRIDGE_NAME_OPTION:
            raise Denied(
                "network-config",
                f"Options.{_BRIDGE_NAME_OPTION}",
                "Choosing the bridge interface name can adopt an existing host bridge; leave it out.",
            )


def check_build(
    query: dict[str, list[str]], settings: PolicySettings | None = None, facts: Facts | None = None
) -> None:
    """`POST /build` (classic builder) query: no host network, cgroup parent, remote context or BuildKit.

    Without `facts`, `networkmode=container:<x>` is denied (ownership cannot be checked). Limits above the
    maximum are denied; a build without limits is not given defaults (its query is forwarded unchanged).
    """
    for mode in query_values(query, "networkmode"):
        if facts is None and mode.lower().startswith("container:"):
            raise Denied("namespace-not-owned", "networkmode", "A build cannot join another container here.")
        if facts is not None:
            check_network_mode(mode, "networkmode", facts)
    if any(query_values(query, "cgroupparent")):
        raise Denied("no-cgroup-parent", "cgroupparent", "A build's cgroup parent is reserved for admins.")
    for remote in query_values(query, "remote"):
        if remote:
            raise Denied(
                "no-remote-fetch",
                "remote",
                f"The engine would fetch the build context from {remote!r} itself; send the context instead.",
            )
    for version in query_values(query, "version"):
        if version not in ("", "1"):
            raise Denied(
                "no-buildkit",
                "version",
                "BuildKit builds are not available through this gateway; set DOCKER_BUILDKIT=0.",
            )
    for opt in query_values(query, "securityopt"):
        check_security_opt(opt, "securityopt")
    if settings is not None and settings.max_memory is not None:
        for raw in query_values(query, "memory"):
            if not 0 <= _query_int(raw, "memory") <= settings.max_memory:
                raise Denied("limits", "memory", f"memory={raw} is above this host's maximum for a build.")
    if settings is not None and settings.max_nano_cpus is not None:
        periods = [_query_int(raw, "cpuperiod") for raw in query_values(query, "cpuperiod")]
        period = min((p for p in periods if p > 0), default=CPU_PERIOD_DEFAULT)
        for raw in query_values(query, "cpuquota"):
            quota = _query_int(raw, "cpuquota")
            if quota < 0 or quota * 1_000_000_000 > settings.max_nano_cpus * period:
                raise Denied(
                    "limits", "cpuquota", f"cpuquota={raw} is above this host's maximum for a build."
                )


def _query_int(raw: str, name: str) -> int:
    try:
        return int(raw or "0")
    except ValueError:
        raise Denied("bad-field-type", name, f"{name}={raw!r} is not an integer.") from None


def check_image_create(query: dict[str, list[str]], settings: PolicySettings | None = None) -> None:
    """`POST /images/create`: no server-side fetch (fromSrc other than '-'), pulls from allowed registries."""
    for source in query_values(query, "fromsrc"):
        if source != "-":
            # dockerd fetches any other value over HTTP itself, even one without a scheme.
            raise Denied(
                "no-remote-fetch",
                "fromSrc",
                f"The engine would download {source!r} itself; import from a file (fromSrc=-) instead.",
            )
    for image in query_values(query, "fromimage"):
        if image and settings is not None and not settings.image_allowed(image):
            raise Denied(
                "registry",
                "fromImage",
                f"Image {image!r} is not from an allowed registry "
                f"({', '.join(settings.allowed_registries)}); pull from one of those.",
            )


def apply_owner_labels(body: dict[str, Any], user: str, team: str | None) -> dict[str, Any]:
    """Return the body with its owner labels set to `user`/`team`; owner labels the client sent are refused
    (a silent rewrite would leave a client reading back labels other than those it wrote)."""
    view = folded(body)
    key = view.get("labels", "Labels")
    current = as_map(body.get(key), "Labels")
    refuse_owner_labels(current, "Labels")
    labels = dict(current)
    labels[OWNER_USER_LABEL] = user
    # Always set, even empty: a container otherwise inherits an owner label from its image's LABELs.
    labels[OWNER_TEAM_LABEL] = team or ""
    return {**body, key: labels}
