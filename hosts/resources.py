"""Host-level resources for the REST API: networks, volumes and engine events, each call admitted first.

Lists show what the caller may see (hosts.access); every change passes hosts.admission like any other.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hosts import access
from hosts.access import Caller
from hosts.admission import admit
from hosts.engine import EngineTarget, open_engine
from hosts.engine.client import post_json
from hosts.models import Host

MAX_EVENTS = 5000


def _engine(host: Host) -> Any:
    return open_engine(EngineTarget.of(host))


def _admitted(who: Caller, host: Host, path: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    forwarded = admit(who, host, "POST", path, {}, "application/json", raw)
    return json.loads(forwarded) if forwarded is not None else body


def _users_by(api: Any, key: str) -> dict[str, list[dict[str, str]]]:
    """Containers using each network (by id) or volume (by name)."""
    users: dict[str, list[dict[str, str]]] = {}
    for container in api.containers(all=True):
        entry = {"id": container["Id"], "name": (container.get("Names") or ["/"])[0].lstrip("/")}
        if key == "networks":
            for network in (container.get("NetworkSettings") or {}).get("Networks", {}).values():
                users.setdefault(network.get("NetworkID", ""), []).append(entry)
        else:
            for mount in container.get("Mounts") or []:
                if mount.get("Type") == "volume":
                    users.setdefault(mount.get("Name", ""), []).append(entry)
    return users


def list_networks(who: Caller, host: Host) -> list[dict[str, Any]]:
    admit(who, host, "GET", "/networks", {}, None, b"")
    with _engine(host) as client:
        networks = client.api.networks()
        users = _users_by(client.api, "networks")
    return [
        {**network, "UsedBy": users.get(network["Id"], [])}
        for network in networks
        if access.can_see_object(who, host, network.get("Labels"))
    ]


def inspect_network(who: Caller, host: Host, ref: str) -> dict[str, Any]:
    admit(who, host, "GET", f"/networks/{ref}", {}, None, b"")
    with _engine(host) as client:
        network: dict[str, Any] = client.api.inspect_network(ref)
    return network


def create_network(who: Caller, host: Host, body: dict[str, Any]) -> dict[str, Any]:
    admitted = _admitted(who, host, "/networks/create", body)
    with _engine(host) as client:
        return post_json(client, "/networks/create", admitted)


def remove_network(who: Caller, host: Host, ref: str) -> None:
    admit(who, host, "DELETE", f"/networks/{ref}", {}, None, b"")
    with _engine(host) as client:
        client.api.remove_network(ref)


def connect_network(
    who: Caller, host: Host, ref: str, container: str, *, connect: bool, force: bool = False
) -> None:
    """Connect a container to the network, or disconnect it; the caller must own both."""
    verb = "connect" if connect else "disconnect"
    # The policy checks that the caller owns the container too (it is named in the body).
    body = json.dumps({"Container": container}).encode()
    admit(who, host, "POST", f"/networks/{ref}/{verb}", {}, "application/json", body)
    with _engine(host) as client:
        if connect:
            client.api.connect_container_to_network(container, ref)
        else:
            client.api.disconnect_container_from_network(container, ref, force=force)


def prune(who: Caller, host: Host, kind: str) -> dict[str, Any]:
    """Remove unused networks or volumes of the host (admins: it ignores ownership)."""
    admit(who, host, "POST", f"/{kind}/prune", {}, None, b"")
    with _engine(host) as client:
        result: dict[str, Any] = getattr(client.api, f"prune_{kind}")()
    return result


def list_volumes(who: Caller, host: Host) -> list[dict[str, Any]]:
    admit(who, host, "GET", "/volumes", {}, None, b"")
    with _engine(host) as client:
        volumes = client.api.volumes().get("Volumes") or []
        users = _users_by(client.api, "volumes")
    return [
        {**volume, "UsedBy": users.get(volume["Name"], [])}
        for volume in volumes
        if access.can_see_object(who, host, volume.get("Labels"))
    ]


def inspect_volume(who: Caller, host: Host, name: str) -> dict[str, Any]:
    admit(who, host, "GET", f"/volumes/{name}", {}, None, b"")
    with _engine(host) as client:
        volume: dict[str, Any] = client.api.inspect_volume(name)
        volume["UsedBy"] = _users_by(client.api, "volumes").get(name, [])
    return volume


def create_volume(who: Caller, host: Host, body: dict[str, Any]) -> dict[str, Any]:
    admitted = _admitted(who, host, "/volumes/create", body)
    with _engine(host) as client:
        return post_json(client, "/volumes/create", admitted)


def remove_volume(who: Caller, host: Host, name: str, *, force: bool = False) -> None:
    admit(who, host, "DELETE", f"/volumes/{name}", {}, None, b"")
    with _engine(host) as client:
        client.api.remove_volume(name, force=force)


def events(
    who: Caller, host: Host, *, since: float | None, until: float | None, filters: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Engine events between since and until (default: the last hour up to now), those the caller may see."""
    admit(who, host, "GET", "/events", {}, None, b"")
    now = time.time()
    until = now if until is None else until
    since = until - 3600 if since is None else since
    visible = []
    with _engine(host) as client:
        for event in client.api.events(since=since, until=until, filters=filters or None, decode=True):
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            if access.can_see_object(who, host, attributes):
                visible.append(event)
                if len(visible) >= MAX_EVENTS:
                    break
    return visible
