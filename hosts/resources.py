"""Host-level resources for the REST API: networks, volumes and engine events, each call admitted first.

Lists show what the caller may see (hosts.access); every change passes hosts.admission like any other.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hosts import visibility
from hosts.access import Caller
from hosts.admission import admit
from hosts.engine import EngineTarget, open_engine
from hosts.engine.client import send, send_json
from hosts.engine.request import EngineRequest, Kind, check_reference
from hosts.facts import EngineLookups
from hosts.models import Host

MAX_EVENTS = 5000


def _engine(host: Host) -> Any:
    return open_engine(EngineTarget.of(host))


def _call(who: Caller, host: Host, request: EngineRequest) -> Any:
    """Admit `request`, send what admission returned, and answer the engine's JSON (None if empty)."""
    admitted = admit(who, host, request)
    with _engine(host) as client:
        return send_json(client, admitted)


def _create(path: str, body: dict[str, Any]) -> EngineRequest:
    return EngineRequest.build("POST", path, content_type="application/json", body=json.dumps(body).encode())


def _users_by(api: Any, key: str, scope: visibility.Scope) -> dict[str, list[dict[str, str]]]:
    """The containers the caller may see that use each network (by id) or volume (by name)."""
    users: dict[str, list[dict[str, str]]] = {}
    for container in scope.restrict(api.containers(all=True), lambda c: c.get("Labels")):
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
    request = admit(who, host, EngineRequest.build("GET", "/networks"))
    scope = visibility.Scope.of(who, host)
    with _engine(host) as client:
        networks = send_json(client, request) or []
        users = _users_by(client.api, "networks", scope)
    return [
        {**network, "UsedBy": users.get(network["Id"], [])}
        for network in scope.restrict(networks, lambda n: n.get("Labels"))
    ]


def inspect_network(who: Caller, host: Host, ref: str) -> dict[str, Any]:
    """A network's inspect; below admin, its `Containers` only the caller's visible ones."""
    request = admit(who, host, EngineRequest.build("GET", "/networks/{network}", ref))
    scope = visibility.Scope.of(who, host)
    with _engine(host) as client:
        network: dict[str, Any] = send_json(client, request)
        if scope.admin:
            return network
        members = client.api.containers(all=True, filters={"network": network["Id"]})
    return scope.network(network, {c["Id"]: c.get("Labels") for c in members})


def create_network(who: Caller, host: Host, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = _call(who, host, _create("/networks/create", body))
    return created


def remove_network(who: Caller, host: Host, ref: str) -> None:
    _call(who, host, EngineRequest.build("DELETE", "/networks/{network}", ref))


def connect_network(
    who: Caller, host: Host, ref: str, container: str, *, connect: bool, force: bool = False
) -> None:
    """Connect a container to the network, or disconnect it; the caller must own both."""
    verb = "connect" if connect else "disconnect"
    # The policy checks that the caller owns the container too (it is named in the body).
    check_reference(Kind.CONTAINER, container, "container")
    body: dict[str, Any] = {"Container": container}
    if not connect and force:
        body["Force"] = True
    request = EngineRequest.build(
        "POST", f"/networks/{{network}}/{verb}", ref, content_type="application/json",
        body=json.dumps(body).encode(),
    )  # fmt: skip
    _call(who, host, request)


def prune(who: Caller, host: Host, kind: str) -> dict[str, Any]:
    """Remove unused networks or volumes of the host (admins: it ignores ownership)."""
    result: dict[str, Any] = _call(who, host, EngineRequest.build("POST", f"/{kind}/prune"))
    return result


def list_volumes(who: Caller, host: Host) -> list[dict[str, Any]]:
    request = admit(who, host, EngineRequest.build("GET", "/volumes"))
    scope = visibility.Scope.of(who, host)
    with _engine(host) as client:
        volumes = (send_json(client, request) or {}).get("Volumes") or []
        users = _users_by(client.api, "volumes", scope)
    return [
        {**volume, "UsedBy": users.get(volume["Name"], [])}
        for volume in scope.restrict(volumes, lambda v: v.get("Labels"))
    ]


def inspect_volume(who: Caller, host: Host, name: str) -> dict[str, Any]:
    request = admit(who, host, EngineRequest.build("GET", "/volumes/{volume}", name))
    with _engine(host) as client:
        volume: dict[str, Any] = send_json(client, request)
        volume["UsedBy"] = _users_by(client.api, "volumes", visibility.Scope.of(who, host)).get(name, [])
    return volume


def create_volume(who: Caller, host: Host, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = _call(who, host, _create("/volumes/create", body))
    return created


def remove_volume(who: Caller, host: Host, name: str, *, force: bool = False) -> None:
    _call(who, host, EngineRequest.build("DELETE", "/volumes/{volume}", name, query={"force": force}))


def events(
    who: Caller, host: Host, *, since: float | None, until: float | None, filters: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Engine events between since and until (default: the last hour up to now), those the caller may see."""
    now = time.time()
    until = now if until is None else until
    since = until - 3600 if since is None else since
    query = {
        "since": f"{since:.9f}",
        "until": f"{until:.9f}",
        "filters": json.dumps(filters) if filters else None,
    }
    request = admit(who, host, EngineRequest.build("GET", "/events", query=query))
    scope = visibility.Scope.of(who, host)
    visible = []
    lookups = EngineLookups(who, host)
    looked_up: dict[visibility.Subject, visibility.Labels] = {}
    try:
        with _engine(host) as client:
            for event in client.api._stream_helper(send(client, request, stream=True), decode=True):
                # Network and volume events are decided by those objects' owners (one lookup each).
                for subject in visibility.event_lookups(event):
                    if subject not in looked_up and not scope.admin:
                        looked_up[subject] = lookups.labels_of(*subject)
                if scope.sees_event(event, visibility.event_owners(event, looked_up)):
                    visible.append(event)
                    if len(visible) >= MAX_EVENTS:
                        break
    finally:
        lookups.close()
    return visible
