"""References inside bodies and image tags, through the gateway against a real engine.

carol (team red) attacks what bob (team blue) made through the gateway: his volume, network, containers and
the tags his containers run. Every attempt is refused, and the engine is as it was; the benign set (own
named volumes, owned new volumes, own networks with aliases, a compose-like create) still passes.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import docker
import pytest

from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from tests.gateway.conftest import API_VERSION, IMAGE, UNIX_HOST, Gateway

B_VOLUME, B_NETWORK, B_BOX, B_TAG_BOX = "refs-b-vol", "refs-b-net", "refs-b-box", "refs-b-tagbox"
B_BRIDGE_BOX = "refs-b-bridgebox"  # on the default bridge, where legacy links work
B_TAG, B_IMAGE = "refs-b-app:1", "refs-b-img:1"
A_NETWORK, A_NETWORK2, A_BOX = "refs-a-net", "refs-a-net2", "refs-a-box"
ATTACK = "refs-attack"  # the name every attacking create asks for: it must never exist


def send(
    gateway: Gateway,
    user: str,
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, Any] | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    """One raw API call through the gateway as `user`: (status, body)."""
    target = f"/hosts/{UNIX_HOST}/v{API_VERSION}{path}" + (
        f"?{urlencode(query, doseq=True)}" if query else ""
    )
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    headers = {"Authorization": f"Bearer {gateway.tokens[user]}"}
    if raw:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", gateway.plain.port, timeout=60)
    try:
        connection.request(method, target, body=raw or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def ok(gateway: Gateway, user: str, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
    status, reply = send(gateway, user, method, path, *args, **kwargs)
    assert status < 300, (method, path, status, reply[:400])
    return json.loads(reply) if reply.startswith(b"{") else reply


def create_body(host_config: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"Image": IMAGE, "Cmd": ["sleep", "600"], "HostConfig": host_config or {}, **top}


def run(gateway: Gateway, user: str, name: str, host_config: dict[str, Any] | None = None, **top: Any) -> str:
    """Create and start a container through the gateway; its id."""
    created = ok(gateway, user, "POST", "/containers/create", create_body(host_config, **top), {"name": name})
    ok(gateway, user, "POST", f"/containers/{name}/start")
    return str(created["Id"])


def context_tar(extra: str = "") -> bytes:
    raw = io.BytesIO()
    dockerfile = f"FROM {IMAGE}\nLABEL refs=1\n{extra}".encode()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        archive.addfile(info, io.BytesIO(dockerfile))
    return raw.getvalue()


def _clean(engine: docker.APIClient) -> None:
    for container in engine.containers(all=True):
        if any(name.lstrip("/").startswith("refs-") for name in container["Names"] or []):
            engine.remove_container(container["Id"], force=True, v=True)
    for network in engine.networks():
        if network["Name"].startswith("refs-"):
            engine.remove_network(network["Id"])
    for volume in engine.volumes().get("Volumes") or []:
        if volume["Name"].startswith("refs-"):
            engine.remove_volume(volume["Name"], force=True)
    for image in engine.images():
        for tag in image.get("RepoTags") or []:
            if tag.startswith("refs-"):
                with contextlib.suppress(docker.errors.NotFound):
                    engine.remove_image(tag, force=True)


@pytest.fixture(scope="module")
def engine(gateway: Gateway) -> Iterator[docker.APIClient]:
    client = docker.APIClient(base_url=gateway.testbed.engine1.unix_url, version=API_VERSION, timeout=60)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def world(gateway: Gateway, engine: docker.APIClient) -> Iterator[dict[str, Any]]:
    """bob's (blue) objects and carol's (red), all made through the gateway so they carry owner labels."""
    _clean(engine)
    try:
        ok(gateway, "bob", "POST", "/volumes/create", {"Name": B_VOLUME})
        ok(gateway, "bob", "POST", "/networks/create", {"Name": B_NETWORK})
        run(gateway, "bob", B_BOX, {"NetworkMode": B_NETWORK, "Binds": [f"{B_VOLUME}:/data"]})
        run(gateway, "bob", B_BRIDGE_BOX)
        repo, tag = B_TAG.split(":")
        ok(gateway, "bob", "POST", f"/images/{IMAGE}/tag", query={"repo": repo, "tag": tag})
        run(gateway, "bob", B_TAG_BOX, Image=B_TAG)
        repo, tag = B_IMAGE.split(":")
        ok(gateway, "bob", "POST", "/commit", query={"container": B_BOX, "repo": repo, "tag": tag})
        ok(gateway, "carol", "POST", "/networks/create", {"Name": A_NETWORK})
        ok(gateway, "carol", "POST", "/networks/create", {"Name": A_NETWORK2})
        run(gateway, "carol", A_BOX, {"NetworkMode": A_NETWORK})
        yield {"b_tag_id": engine.inspect_image(B_TAG)["Id"]}
    finally:
        _clean(engine)


NO_TAG = "<none>:<none>"


def engine_state(engine: docker.APIClient) -> dict[str, Any]:
    """What an attack could change: containers (and their networks and mounts), volumes, tags."""
    images = engine.images()
    containers = {}
    for summary in engine.containers(all=True):
        inspect = engine.inspect_container(summary["Id"])
        networks = inspect["NetworkSettings"]["Networks"] or {}
        containers[inspect["Name"]] = (
            inspect["State"]["Running"],
            sorted((name, tuple(sorted(ep.get("Aliases") or []))) for name, ep in networks.items()),
            sorted(mount.get("Name") or mount["Source"] for mount in inspect["Mounts"]),
        )
    return {
        "containers": containers,
        "volumes": sorted(v["Name"] for v in engine.volumes().get("Volumes") or []),
        "tags": sorted(tag for image in images for tag in image.get("RepoTags") or [] if tag != NO_TAG),
        # "<none>:<none>" names every dangling image at once: not a tag, and its last holder varies by call.
        "tag_ids": {
            tag: image["Id"] for image in images for tag in image.get("RepoTags") or [] if tag != NO_TAG
        },
    }


# (name, method, path, body, query): each an attempt by carol (red) on bob's (blue) objects.
ATTACKS: list[tuple[str, str, str, Any, dict[str, Any]]] = [
    ("binds-their-volume", "POST", "/containers/create", create_body({"Binds": [f"{B_VOLUME}:/x"]}), {}),
    (
        "mounts-their-volume",
        "POST",
        "/containers/create",
        create_body({"Mounts": [{"Type": "volume", "Source": B_VOLUME, "Target": "/x"}]}),
        {},
    ),
    (
        "mounts-plant-owner-label",
        "POST",
        "/containers/create",
        create_body(
            {
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "refs-a-planted",
                        "Target": "/x",
                        "VolumeOptions": {"Labels": {OWNER_TEAM_LABEL: "blue"}},
                    }
                ]
            }
        ),
        {},
    ),
    ("network-mode-their-network", "POST", "/containers/create", create_body({"NetworkMode": B_NETWORK}), {}),
    (
        "endpoints-their-network",
        "POST",
        "/containers/create",
        create_body(NetworkingConfig={"EndpointsConfig": {B_NETWORK: {"Aliases": ["db"]}}}),
        {},
    ),
    (
        "endpoint-link-their-container",
        "POST",
        "/containers/create",
        create_body(
            {"NetworkMode": A_NETWORK},
            NetworkingConfig={"EndpointsConfig": {A_NETWORK: {"Links": [f"{B_BOX}:db"]}}},
        ),
        {},
    ),
    *[
        (
            f"{mode.lower()}-their-container",
            "POST",
            "/containers/create",
            create_body({mode: f"container:{B_BOX}"}),
            {},
        )
        for mode in ("NetworkMode", "PidMode", "IpcMode")
    ],
    ("volumes-from-their-container", "POST", "/containers/create", create_body({"VolumesFrom": [B_BOX]}), {}),
    ("links-their-container", "POST", "/containers/create", create_body({"Links": [f"/{B_BOX}:db"]}), {}),
    (
        "connect-to-their-network-with-alias",
        "POST",
        f"/networks/{B_NETWORK}/connect",
        {
            "Container": A_BOX,
            "EndpointConfig": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "172.31.9.9"}},
        },
        {},
    ),
    ("connect-their-container", "POST", f"/networks/{A_NETWORK2}/connect", {"Container": B_BOX}, {}),
    (
        "connect-with-link-to-theirs",
        "POST",
        f"/networks/{A_NETWORK2}/connect",
        {"Container": A_BOX, "EndpointConfig": {"Links": [f"{B_BOX}:db"]}},
        {},
    ),
    ("tag-over-their-tag", "POST", f"/images/{IMAGE}/tag", None, {"repo": "refs-b-app", "tag": "1"}),
    (
        "commit-over-their-tag",
        "POST",
        "/commit",
        None,
        {"container": A_BOX, "repo": "refs-b-app", "tag": "1"},
    ),
    (
        "commit-planting-owner-label",
        "POST",
        "/commit",
        None,
        {"container": A_BOX, "repo": "refs-a-snap", "changes": f"LABEL {OWNER_TEAM_LABEL}=blue"},
    ),
    ("remove-their-tag", "DELETE", f"/images/{B_TAG}", None, {"force": "1"}),
    ("export-their-image", "GET", f"/images/{B_IMAGE}/get", None, {}),
    ("export-their-image-by-names", "GET", "/images/get", None, {"names": [IMAGE, B_IMAGE]}),
]


# The rule each attack is refused by; HIDDEN: admission answers 404 for another team's object in the path.
RULES = {
    "binds-their-volume": "volume-not-owned",
    "mounts-their-volume": "volume-not-owned",
    "mounts-plant-owner-label": "owner-label",
    "network-mode-their-network": "network-not-owned",
    "endpoints-their-network": "network-not-owned",
    "endpoint-link-their-container": "links-not-owned",
    "networkmode-their-container": "namespace-not-owned",
    "pidmode-their-container": "namespace-not-owned",
    "ipcmode-their-container": "namespace-not-owned",
    "volumes-from-their-container": "volumes-from-not-owned",
    "links-their-container": "links-not-owned",
    "connect-their-container": "container-not-owned",
    "connect-with-link-to-theirs": "links-not-owned",
    "tag-over-their-tag": "image-not-owned",
    "commit-over-their-tag": "image-not-owned",
    "commit-planting-owner-label": "owner-label",
    "remove-their-tag": "image-not-owned",
    "export-their-image": "image-export-not-owned",
    "export-their-image-by-names": "image-export-not-owned",
}
HIDDEN = frozenset({"connect-to-their-network-with-alias"})


@pytest.mark.parametrize(("name", "method", "path", "body", "query"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_another_team_s_objects_cannot_be_referenced(
    gateway: Gateway,
    engine: docker.APIClient,
    world: dict[str, Any],
    name: str,
    method: str,
    path: str,
    body: Any,
    query: dict[str, Any],
) -> None:
    before = engine_state(engine)
    if path == "/containers/create":
        query = {"name": ATTACK}
    status, reply = send(gateway, "carol", method, path, body, query)
    payload = json.loads(reply)
    assert payload["message"]
    assert (status, payload.get("rule")) == ((404, None) if name in HIDDEN else (403, RULES[name])), payload
    assert engine_state(engine) == before


def test_a_build_cannot_tag_over_their_tag(
    gateway: Gateway, engine: docker.APIClient, world: dict[str, Any]
) -> None:
    before = engine_state(engine)
    status, reply = send(
        gateway,
        "carol",
        "POST",
        "/build",
        context_tar(),
        {"t": B_TAG, "rm": "1"},
        content_type="application/x-tar",
    )
    assert status == 403 and json.loads(reply)["rule"] == "image-not-owned", reply[:400]
    assert engine_state(engine) == before
    assert engine.inspect_image(B_TAG)["Id"] == world["b_tag_id"]


def test_a_viewer_cannot_export_another_team_s_image(gateway: Gateway, world: dict[str, Any]) -> None:
    status, reply = send(gateway, "victor", "GET", f"/images/{B_IMAGE}/get")
    assert status == 403 and json.loads(reply)["rule"] == "image-export-not-owned", reply[:400]


@pytest.mark.parametrize(
    ("name", "host_config", "rule"),
    [
        ("refs-a-joiner", {"NetworkMode": f"container:{B_BOX}"}, "reference-not-owned"),
        ("refs-a-pid", {"PidMode": f"container:{B_BOX}"}, "reference-not-owned"),
        ("refs-a-linker", {"Links": [f"{B_BRIDGE_BOX}:db"]}, "reference-not-owned"),
        ("refs-a-on-their-net", {"NetworkMode": B_NETWORK}, "network-not-owned"),
    ],
)
def test_start_and_restart_check_again_references_the_starter_does_not_own(
    gateway: Gateway,
    engine: docker.APIClient,
    world: dict[str, Any],
    name: str,
    host_config: dict[str, Any],
    rule: str,
) -> None:
    """A container of team red that an admin (alice, red) pointed at bob's container: carol, red's operator,
    owns it and may start it, but starting it would join bob's namespaces or read his environment."""
    ok(gateway, "alice", "POST", "/containers/create", create_body(host_config), {"name": name})
    for action in ("start", "restart"):
        status, reply = send(gateway, "carol", "POST", f"/containers/{name}/{action}")
        assert status == 403 and json.loads(reply)["rule"] == rule, reply[:400]
    assert engine.inspect_container(name)["State"]["Running"] is False
    ok(gateway, "alice", "POST", f"/containers/{name}/start")  # a host admin is not held back


# -- the benign set


def test_an_own_named_volume_and_new_volumes_are_owned(
    gateway: Gateway, engine: docker.APIClient, world: dict[str, Any]
) -> None:
    mounts = [
        {
            "Type": "volume",
            "Source": "refs-a-new-m",
            "Target": "/m",
            "VolumeOptions": {"Labels": {"tier": "db"}},
        }
    ]
    run(gateway, "carol", "refs-a-vols", {"Binds": ["refs-a-new-b:/b"], "Mounts": mounts})
    for name in ("refs-a-new-b", "refs-a-new-m"):
        labels = engine.inspect_volume(name)["Labels"]
        assert (labels[OWNER_USER_LABEL], labels[OWNER_TEAM_LABEL]) == ("carol", "red"), labels
    assert engine.inspect_volume("refs-a-new-m")["Labels"]["tier"] == "db"
    run(gateway, "carol", "refs-a-vols2", {"Binds": ["refs-a-new-b:/b:ro"]})  # now an existing own volume


def test_a_compose_like_create_on_an_own_network_with_aliases_passes(
    gateway: Gateway, engine: docker.APIClient, world: dict[str, Any]
) -> None:
    run(
        gateway,
        "carol",
        "refs-a-web",
        {"NetworkMode": A_NETWORK, "Binds": ["refs-a-web-data:/data"]},
        NetworkingConfig={"EndpointsConfig": {A_NETWORK: {"Aliases": ["web", "refs-a-web"]}}},
        Labels={"com.docker.compose.project": "refs"},
    )
    endpoint = {"Aliases": ["api"], "Links": [f"{A_BOX}:box"]}
    ok(
        gateway,
        "carol",
        "POST",
        f"/networks/{A_NETWORK2}/connect",
        {"Container": "refs-a-web", "EndpointConfig": endpoint},
    )
    networks = engine.inspect_container("refs-a-web")["NetworkSettings"]["Networks"]
    assert "web" in networks[A_NETWORK]["Aliases"] and "api" in networks[A_NETWORK2]["Aliases"]
    ok(gateway, "carol", "POST", "/containers/refs-a-web/restart")


def test_own_tags_commits_and_builds_pass(
    gateway: Gateway, engine: docker.APIClient, world: dict[str, Any]
) -> None:
    ok(gateway, "carol", "POST", f"/images/{IMAGE}/tag", query={"repo": "refs-a-app", "tag": "1"})
    ok(gateway, "carol", "POST", "/commit", query={"container": A_BOX, "repo": "refs-a-snap", "tag": "1"})
    labels = engine.inspect_image("refs-a-snap:1")["Config"]["Labels"]
    assert labels[OWNER_TEAM_LABEL] == "red"  # a commit is owned by its container's team
    status, reply = send(
        gateway, "carol", "POST", "/build", context_tar(), {"t": "refs-a-built:1", "rm": "1"},
        content_type="application/x-tar",
    )  # fmt: skip
    assert status == 200 and b"Successfully tagged" in reply, reply[-400:]
    status, _ = send(gateway, "carol", "GET", "/images/refs-a-snap:1/get")
    assert status == 200


def test_a_built_image_is_owned_by_its_builder_whatever_its_dockerfile_says(
    gateway: Gateway, engine: docker.APIClient, world: dict[str, Any]
) -> None:
    # A LABEL instruction cannot name an owner: the builder's labels are applied after the Dockerfile's.
    planted = f"LABEL {OWNER_TEAM_LABEL}=blue {OWNER_USER_LABEL}=bob\n"
    status, reply = send(
        gateway, "carol", "POST", "/build", context_tar(planted), {"t": "refs-a-planted:1", "rm": "1"},
        content_type="application/x-tar",
    )  # fmt: skip
    assert status == 200 and b"Successfully tagged" in reply, reply[-400:]
    labels = engine.inspect_image("refs-a-planted:1")["Config"]["Labels"]
    assert (labels[OWNER_USER_LABEL], labels[OWNER_TEAM_LABEL], labels["refs"]) == ("carol", "red", "1")
