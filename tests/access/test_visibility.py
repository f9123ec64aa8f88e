"""One visibility layer (hosts.visibility) seen from every entry point, against a real engine.

The cast is the gateway tests' (tests/gateway/conftest.py): carol operates for team red, bob for team blue,
alice is a superuser; "red-viewer" is carol through a token capped at viewer. Objects are made through the
gateway by their owners, so dockerweb puts the owner labels on them as it does for every client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest
from rest_framework.test import APIClient

from hosts import visibility
from hosts.access import AccessDenied
from hosts.models import ApiToken, Host, Role
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from tests.containers.test_ws_support import collect, connect, run
from tests.gateway import conftest as gateway_package
from tests.gateway.conftest import IMAGE, UNIX_HOST, Gateway

# The gateway package's fixtures, used here: its processes over committed rows, and a client of engine1.
test_database = gateway_package.test_database
gateway = gateway_package.gateway
committed = gateway_package.committed
engine1 = gateway_package.engine1

VIEWER = "red-viewer"
OWNER_LABELS = {OWNER_USER_LABEL, OWNER_TEAM_LABEL}


@pytest.fixture(scope="module")
def world(gateway: Gateway, django_db_blocker: Any) -> Iterator[Gateway]:
    """The gateway's cast plus a viewer of team red (carol's token capped at viewer)."""
    with django_db_blocker.unblock():
        carol = ApiToken.objects.filter(user__username="carol").first()
        assert carol is not None
        token, gateway.tokens[VIEWER] = ApiToken.issue(carol.user, "red viewer", max_role=Role.VIEWER.value)
    try:
        yield gateway
    finally:
        gateway.tokens.pop(VIEWER, None)
        with django_db_blocker.unblock():
            token.delete()


class Objects:
    """Engine objects made in a test, removed afterwards through the engine itself."""

    def __init__(self, engine: docker.DockerClient) -> None:
        self.engine = engine
        self.tag = uuid.uuid4().hex[:8]
        self.containers: list[str] = []
        self.networks: list[str] = []
        self.volumes: list[str] = []

    def name(self, what: str) -> str:
        return f"dwvis-{self.tag}-{what}"

    def container(self, client: docker.DockerClient, what: str, **kwargs: Any) -> Any:
        container = client.containers.create(IMAGE, ["sleep", "300"], name=self.name(what), **kwargs)
        self.containers.append(container.id)
        return container

    def network(self, client: docker.DockerClient, what: str, **kwargs: Any) -> Any:
        network = client.networks.create(self.name(what), **kwargs)
        self.networks.append(network.id)
        return network

    def volume(self, client: docker.DockerClient, what: str, **kwargs: Any) -> Any:
        volume = client.volumes.create(self.name(what), **kwargs)
        self.volumes.append(volume.name)
        return volume

    def close(self) -> None:
        api = self.engine.api
        for ref, remove in [
            *((c, lambda r: api.remove_container(r, force=True)) for c in self.containers),
            *((n, api.remove_network) for n in self.networks),
            *((v, lambda r: api.remove_volume(r, force=True)) for v in self.volumes),
        ]:
            with contextlib.suppress(docker.errors.NotFound):
                remove(ref)


@pytest.fixture
def objects(engine1: docker.DockerClient) -> Iterator[Objects]:
    made = Objects(engine1)
    try:
        yield made
    finally:
        made.close()


def rest(world: Gateway, user: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[user]}")
    return client


def host_pk() -> int:
    return int(Host.objects.get(name=UNIX_HOST).pk)


def no_owner_labels(labels: dict[str, str] | None) -> bool:
    return not OWNER_LABELS & set(labels or {})


def test_events_websocket_and_gateway_show_a_caller_the_same_events(
    world: Gateway, objects: Objects, committed: None
) -> None:
    red, blue = world.sdk("carol"), world.sdk("bob")
    marker = objects.name("marker")
    ws_path = f"/ws/events/?hosts={host_pk()}"
    from_gateway: list[dict[str, Any]] = []

    def is_marker(event: dict[str, Any]) -> bool:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        return (
            event.get("Type") == "container"
            and event.get("Action") == "destroy"
            and (attributes.get("name") == marker)
        )

    async def scenario() -> None:
        ws = await connect(ws_path, world.tokens[VIEWER])
        await collect(ws, lambda m: m["type"] == "host" and m["state"] == "up")
        stream = world.sdk(VIEWER).api.events(decode=True)  # the gateway's /events, open from here on

        def read_gateway() -> None:
            for event in stream:
                from_gateway.append(event)
                if is_marker(event):
                    return

        reader = threading.Thread(target=read_gateway, daemon=True)
        reader.start()

        def act() -> None:
            for client, team in ((blue, "blue"), (red, "red")):
                network = objects.network(client, f"{team}-net", labels={"app": team})
                objects.volume(client, f"{team}-vol", labels={"app": team})
                container = objects.container(client, f"{team}-box", labels={"app": team})
                network.connect(container)
                container.start()
                container.remove(force=True)
                network.remove()
            objects.container(red, "marker").remove()

        await asyncio.to_thread(act)
        seen = await collect(ws, lambda m: m["type"] == "event" and is_marker(m["event"]))
        await asyncio.to_thread(reader.join, 30)
        stream.close()
        await ws.disconnect()
        from_ws = [m["event"] for m in seen if m["type"] == "event"]

        def key(event: dict[str, Any]) -> tuple[str, str, str]:
            return event["Type"], event["Action"], event["Actor"]["ID"]

        # Earlier tests' leftovers may show before ours: compare from our first object on.
        def ours(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
            names = [(e.get("Actor") or {}).get("Attributes", {}).get("name", "") for e in events]
            first = next(i for i, name in enumerate(names) if name.startswith(f"dwvis-{objects.tag}"))
            return [key(e) for e in events[first:]]

        assert ours(from_ws) == ours(from_gateway)
        kinds = {(kind, action) for kind, action, _ in ours(from_gateway)}
        assert {("network", "create"), ("network", "connect"), ("network", "destroy")} <= kinds
        assert {("volume", "create"), ("container", "start"), ("container", "destroy")} <= kinds
        blue_names = {objects.name(f"blue-{what}") for what in ("net", "vol", "box")}
        blue_ids = set(objects.containers[:1]) | set(objects.networks[:1]) | blue_names
        assert not any(
            event["Actor"]["ID"] in blue_ids
            or event["Actor"].get("Attributes", {}).get("name") in blue_names
            or event["Actor"].get("Attributes", {}).get("container") in blue_ids
            for event in from_ws + from_gateway
        )
        assert all(no_owner_labels(event["Actor"].get("Attributes")) for event in from_gateway)
        red_box = [e for e in from_gateway if e["Actor"]["ID"] == objects.containers[1]]
        assert red_box and all(e["Actor"]["Attributes"].get("app") == "red" for e in red_box)

    run(scenario)


def test_the_gateway_returns_exactly_the_labels_a_client_wrote(
    world: Gateway, objects: Objects, engine1: docker.DockerClient
) -> None:
    labels = {"app": "web", "tier": "front"}
    carol = world.sdk("carol")
    container = objects.container(carol, "labelled", labels=labels)
    network = objects.network(carol, "labelled", labels=labels)
    created = carol.api.create_volume(objects.name("labelled"), labels=labels)
    objects.volumes.append(created["Name"])
    # dockerweb did write its owner labels: the engine has them.
    assert engine1.api.inspect_container(container.id)["Config"]["Labels"][OWNER_USER_LABEL] == "carol"
    assert engine1.api.inspect_network(network.id)["Labels"][OWNER_TEAM_LABEL] == "red"
    assert created["Labels"] == labels

    for user in ("carol", VIEWER, "alice"):  # owners, viewers and admins alike
        api = world.sdk(user).api
        assert api.inspect_container(container.id)["Config"]["Labels"] == labels
        listed = api.containers(all=True, filters={"label": "app=web"})
        assert [c["Labels"] for c in listed if c["Id"] == container.id] == [labels]
        assert api.inspect_network(network.id)["Labels"] == labels
        assert [n["Labels"] for n in api.networks(ids=[network.id])] == [labels]
        assert api.inspect_volume(created["Name"])["Labels"] == labels
        volumes = api.volumes(filters={"name": created["Name"]})["Volumes"]
        assert [v["Labels"] for v in volumes] == [labels]
        df = api.df()
        assert all(no_owner_labels(item.get("Labels")) for item in df["Containers"] + df["Volumes"])


def test_a_viewer_sees_only_visible_containers_in_a_shared_networks_inspect(
    world: Gateway, objects: Objects, engine1: docker.DockerClient, committed: None
) -> None:
    network = objects.network(world.sdk("carol"), "shared")
    ours = objects.container(world.sdk("carol"), "ours")
    theirs = objects.container(world.sdk("bob"), "theirs")
    for container in (ours, theirs):  # an admin joined both: the network is red's, one container blue's
        engine1.api.connect_container_to_network(container.id, network.id)
        engine1.api.start(container.id)

    through_gateway = world.sdk(VIEWER).api.inspect_network(network.id)
    assert set(through_gateway["Containers"]) == {ours.id}
    response = rest(world, VIEWER).get(f"/api/v1/hosts/{host_pk()}/networks/{network.id}/")
    assert response.status_code == 200, response.content
    assert set(response.json()["Containers"]) == {ours.id}
    # An admin sees every member.
    assert set(world.sdk("alice").api.inspect_network(network.id)["Containers"]) == {ours.id, theirs.id}


def _ambiguous_prefix(objects: Objects, engine: docker.DockerClient, owner: docker.DockerClient) -> str:
    """A one-character id prefix that `owner`'s containers share (at most 17 creates, by pigeonhole)."""
    seen: dict[str, str] = {}
    while True:
        container = objects.container(owner, f"prefix-{len(objects.containers)}")
        first = container.id[0]
        if first in seen:
            return first
        seen[first] = container.id


def test_an_ambiguous_id_prefix_is_a_client_error_naming_the_prefix(
    world: Gateway, objects: Objects, engine1: docker.DockerClient, committed: None
) -> None:
    prefix = _ambiguous_prefix(objects, engine1, world.sdk("carol"))
    for user in ("carol", VIEWER, "bob", "alice"):
        with pytest.raises(docker.errors.APIError) as refused:
            world.sdk(user).api.inspect_container(prefix)
        assert 400 <= refused.value.status_code < 500, (user, refused.value)
        assert repr(prefix) in str(refused.value.explanation) or f": {prefix}" in str(
            refused.value.explanation
        )
        response = rest(world, user).get(f"/api/v1/hosts/{host_pk()}/containers/{prefix}/")
        assert 400 <= response.status_code < 500, (user, response.content)
        assert prefix in response.json()["detail"]


def test_a_viewer_may_not_list_processes_with_their_environment(
    world: Gateway, objects: Objects, committed: None
) -> None:
    container = objects.container(world.sdk("carol"), "top", environment={"DB_PASSWORD": "hunter2"})
    container.start()
    viewer = world.sdk(VIEWER).api
    assert viewer.top(container.id)["Processes"]  # the plain listing stays
    assert viewer.top(container.id, ps_args="-ef")["Processes"]
    url = f"/api/v1/hosts/{host_pk()}/containers/{container.id}/top/"
    for ps_args in ("e", "eww", "aux e", "-o pid,environ"):
        with pytest.raises(docker.errors.APIError) as refused:
            viewer.top(container.id, ps_args=ps_args)
        assert refused.value.status_code == 403 and "environment" in str(refused.value.explanation)
        response = rest(world, VIEWER).get(url, {"ps_args": ps_args})
        assert response.status_code == 403, response.content
        assert "environment" in response.json()["detail"]
    # An operator reads secrets: any ps arguments.
    assert world.sdk("carol").api.top(container.id, ps_args="e")["Processes"]


def test_a_viewer_reads_no_environment_in_a_committed_images_inspect(
    world: Gateway, objects: Objects, engine1: docker.DockerClient, committed: None
) -> None:
    # A commit keeps its container's environment in the image's config, readable by every viewer.
    container = objects.container(world.sdk("carol"), "commit", environment={"DB_PASSWORD": "hunter2"})
    image = container.commit(repository=objects.name("image"), tag="1")
    try:
        through_gateway = world.sdk(VIEWER).api.inspect_image(image.id)
        through_rest = rest(world, VIEWER).get(f"/api/v1/hosts/{host_pk()}/images/{image.id}/").json()
        for shown in (through_gateway, through_rest):
            assert "DB_PASSWORD=[hidden]" in shown["Config"]["Env"], shown["Config"]["Env"]
            assert "hunter2" not in str(shown)
        assert "DB_PASSWORD=hunter2" in world.sdk("carol").api.inspect_image(image.id)["Config"]["Env"]
    finally:
        engine1.images.remove(image.id, force=True)


@pytest.mark.parametrize(
    ("ps_args", "allowed"),
    [
        ("", True),
        ("-ef", True),
        ("aux", True),
        ("aux ", False),
        ("e", False),
        ("eww", False),
        ("auxe", False),
        ("aux e", False),
        ("-ef e", False),
        ("-o pid,environ", False),
        ("-e -o args", False),
    ],
)
def test_without_secrets_only_plain_process_listings_are_allowed(ps_args: str, allowed: bool) -> None:
    visibility.check_top_arguments(ps_args, secrets=True)  # whoever reads secrets may ask for anything
    if allowed:
        visibility.check_top_arguments(ps_args, secrets=False)
    else:
        with pytest.raises(AccessDenied, match="environments"):
            visibility.check_top_query({"ps_args": ["aux", ps_args]}, secrets=False)


def test_events_are_decided_by_their_type_and_the_owners_of_their_subjects() -> None:
    def event(kind: str, ref: str, **attributes: str) -> dict[str, Any]:
        return {"Type": kind, "Action": "x", "Actor": {"ID": ref, "Attributes": attributes}}

    red = {OWNER_USER_LABEL: "carol", OWNER_TEAM_LABEL: "red"}
    blue = {OWNER_USER_LABEL: "bob", OWNER_TEAM_LABEL: "blue"}
    objects = {("networks", "shared"): red, ("containers", "c1"): red, ("containers", "c2"): blue}

    def sees(labels: dict[str, str] | None) -> bool:
        return (labels or {}).get(OWNER_TEAM_LABEL) == "red"

    def visible(item: dict[str, Any], admin: bool = False) -> bool:
        owners = visibility.event_owners(item, objects)
        return visibility.event_visible(item, owners, sees, admin=admin)

    mine, theirs = event("container", "c1", **red, name="a"), event("container", "c2", **blue)
    assert visibility.event_lookups(mine) == ()
    assert visible(mine) and not visible(theirs)
    # Networks and volumes: the object itself, and the container a connect or mount names.
    joined, other_joined = (event("network", "shared", container=c, name="n") for c in ("c1", "c2"))
    assert visibility.event_lookups(joined) == (("networks", "shared"), ("containers", "c1"))
    assert visibility.event_lookups(event("volume", "data", driver="local")) == (("volumes", "data"),)
    assert visible(event("network", "shared", name="n")) and visible(joined)
    assert not visible(other_joined)  # another team's container on a network the caller sees
    assert not visible(event("network", "gone", name="n"))  # no labels found: nothing shown
    # Images are shared by every viewer; the daemon's events are its configuration, for admins.
    assert visible(event("image", "busybox"))
    assert not visible(event("daemon", "d")) and visible(event("daemon", "d"), admin=True)
    assert visible(theirs, admin=True)
