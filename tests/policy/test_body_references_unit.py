"""References inside bodies and image tags, as pure logic: check_request with a fake Facts of two teams."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

import pytest

from hosts.policy import (
    Denied,
    NetworkFacts,
    Ownership,
    PolicySettings,
    check_loaded_tags,
    check_request,
    normalize_reference,
    tags_in_image_tar,
)

MINE, THEIRS, SHARED = Ownership.MINE, Ownership.OTHERS, Ownership.SHARED
SETTINGS = PolicySettings(allowed_registries=("docker.io/dwtest/*", "localhost:5000/*"))
IMAGE = "dwtest/busybox:1"


@dataclass
class TwoTeams:
    """The engine as team A's operator sees it: A's objects, B's objects, and unowned shared ones."""

    containers: dict[str, Ownership] = field(
        default_factory=lambda: {"a-app": MINE, "b-db": THEIRS, "shared-box": SHARED}
    )
    volumes: dict[str, Ownership] = field(
        default_factory=lambda: {"a-data": MINE, "b-data": THEIRS, "shared-data": SHARED}
    )
    networks: dict[str, NetworkFacts] = field(
        default_factory=lambda: {
            "a-net": NetworkFacts("a-net", "bridge", MINE),
            "b-net": NetworkFacts("b-net", "bridge", THEIRS),
            "shared-net": NetworkFacts("shared-net", "bridge", SHARED),
            "bridge": NetworkFacts("bridge", "bridge", THEIRS),  # unowned, on a host that shares nothing
            "4f2c": NetworkFacts("host", "host", THEIRS),  # the host network, named by an id prefix
            "b-net-id": NetworkFacts("b-net", "bridge", THEIRS),
        }
    )
    tags: dict[str, str] = field(default_factory=lambda: {normalize_reference("dwtest/app:1"): "team 'blue'"})
    images: dict[str, str] = field(
        default_factory=lambda: {normalize_reference("dwtest/secret:1"): "team 'blue'"}
    )
    inspects: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def owns_container(self, ref: str) -> bool:
        return self.containers.get(ref, THEIRS).usable and ref in self.containers

    def owns_exec(self, exec_id: str) -> bool:
        return False

    def volume_has_driver_opts(self, name: str) -> bool:
        return False

    def container_ownership(self, ref: str) -> Ownership | None:
        return self.containers.get(ref)

    def container_inspect(self, ref: str) -> dict[str, Any] | None:
        return self.inspects.get(ref)

    def volume_ownership(self, name: str) -> Ownership | None:
        return self.volumes.get(name)

    def create_owned_volume(self, name: str, labels: dict[str, str]) -> Ownership:
        self.created.append((name, labels))
        return self.volumes.setdefault(name, MINE)

    def network(self, ref: str) -> NetworkFacts | None:
        return self.networks.get(ref)

    def tag_owned_by_others(self, reference: str) -> str | None:
        return self.tags.get(normalize_reference(reference))

    def image_owned_by_others(self, reference: str) -> str | None:
        return self.images.get(normalize_reference(reference))


def call(
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, list[str]] | None = None,
    facts: TwoTeams | None = None,
) -> bytes | None:
    raw = b"" if body is None else json.dumps(body).encode()
    return check_request(
        method,
        path,
        query or {},
        "application/json",
        raw,
        SETTINGS,
        facts or TwoTeams(),
        owner=("ann", "red"),
    )


def create(host_config: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"Image": IMAGE, "HostConfig": host_config or {}, **top}


def refused(rule: str, field: str, *args: Any, **kwargs: Any) -> Denied:
    with pytest.raises(Denied) as denied:
        call(*args, **kwargs)
    assert (denied.value.rule, denied.value.field) == (rule, field), denied.value.message
    assert denied.value.message.endswith(".")
    return denied.value


# -- volumes


@pytest.mark.parametrize(
    ("host_config", "field"),
    [
        ({"Binds": ["b-data:/data"]}, "HostConfig.Binds[0]"),
        ({"Binds": ["a-data:/a", "b-data:/data:ro"]}, "HostConfig.Binds[1]"),
        ({"Mounts": [{"Type": "volume", "Source": "b-data", "Target": "/d"}]}, "HostConfig.Mounts[0].Source"),
        ({"mounts": [{"type": "volume", "source": "b-data", "target": "/d"}]}, "HostConfig.Mounts[0].Source"),
    ],
)
def test_another_team_s_volume_cannot_be_mounted(host_config: dict[str, Any], field: str) -> None:
    refused("volume-not-owned", field, "POST", "/containers/create", create(host_config))


def test_own_and_shared_volumes_mount() -> None:
    facts = TwoTeams()
    binds = {"Binds": ["a-data:/a", "shared-data:/s:ro"]}
    call("POST", "/containers/create", create(binds), facts=facts)
    assert facts.created == []


def test_a_missing_named_volume_is_created_owned_for_binds_and_mounts_alike() -> None:
    facts = TwoTeams()
    mounts = [
        {"Type": "volume", "Source": "new-m", "Target": "/m", "VolumeOptions": {"Labels": {"tier": "db"}}}
    ]
    call("POST", "/containers/create", create({"Binds": ["new-b:/b"], "Mounts": mounts}), facts=facts)
    assert facts.created == [("new-b", {}), ("new-m", {"tier": "db"})]


def test_a_refused_create_leaves_no_volume_behind() -> None:
    facts = TwoTeams()
    with pytest.raises(Denied):
        call("POST", "/containers/create", create({"Binds": ["new-b:/b"], "Privileged": True}), facts=facts)
    with pytest.raises(Denied):
        call(
            "POST", "/containers/create", create({"Binds": ["new-b:/b"], "NetworkMode": "b-net"}), facts=facts
        )
    assert facts.created == []


def test_a_volume_another_team_creates_in_between_is_refused() -> None:
    facts = TwoTeams()
    facts.create_owned_volume = lambda name, labels: THEIRS  # type: ignore[method-assign]
    refused(
        "volume-not-owned",
        "HostConfig.Binds[0]",
        "POST",
        "/containers/create",
        create({"Binds": ["x1:/b"]}),
        facts=facts,
    )


@pytest.mark.parametrize("name", ["v", "../b-data", "a/b", "-x", "x y"])
def test_volume_names_outside_the_engine_s_grammar_are_refused(name: str) -> None:
    refused(
        "bad-volume-name",
        "HostConfig.Binds[0]",
        "POST",
        "/containers/create",
        create({"Binds": [f"{name}:/d"]}),
    )


@pytest.mark.parametrize("key", ["dockerweb.owner.team", "Dockerweb.Owner.User"])
def test_owner_labels_cannot_be_planted_through_mount_volume_options(key: str) -> None:
    mounts = [
        {"Type": "volume", "Source": "new-m", "Target": "/m", "VolumeOptions": {"Labels": {key: "blue"}}}
    ]
    refused(
        "owner-label",
        "HostConfig.Mounts[0].VolumeOptions.Labels",
        "POST",
        "/containers/create",
        create({"Mounts": mounts}),
    )


# -- networks


@pytest.mark.parametrize(
    ("mode", "rule"),
    [
        ("b-net", "network-not-owned"),
        ("b-net-id", "network-not-owned"),
        ("4f2c", "host-namespace"),
        ("host", "host-namespace"),
        ("nosuch-net", "network-not-found"),
        ("container:b-db", "namespace-not-owned"),
        ("container:", "namespace-not-owned"),
        ("container:/b-db", "namespace-not-owned"),
        ("Container:b-db", "namespace-not-owned"),
    ],
)
def test_network_mode_must_name_a_usable_network_or_own_container(mode: str, rule: str) -> None:
    refused(rule, "HostConfig.NetworkMode", "POST", "/containers/create", create({"NetworkMode": mode}))


@pytest.mark.parametrize("mode", ["", "default", "bridge", "none", "a-net", "shared-net", "container:a-app"])
def test_network_modes_of_one_s_own_pass(mode: str) -> None:
    call("POST", "/containers/create", create({"NetworkMode": mode}))


@pytest.mark.parametrize("name", ["PidMode", "IpcMode", "Cgroup"])
def test_every_container_namespace_mode_needs_an_own_container(name: str) -> None:
    refused(
        "namespace-not-owned",
        f"HostConfig.{name}",
        "POST",
        "/containers/create",
        create({name: "container:b-db"}),
    )
    call("POST", "/containers/create", create({name: "container:a-app"}))


def test_compose_like_create_on_an_own_network_with_aliases_passes() -> None:
    body = create(
        {"NetworkMode": "a-net", "Binds": ["a-data:/data"]},
        NetworkingConfig={"EndpointsConfig": {"a-net": {"Aliases": ["web", "a-app"], "IPAMConfig": None}}},
    )
    call("POST", "/containers/create", body)


def test_the_cli_s_default_endpoint_passes() -> None:
    endpoint = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None}
    call("POST", "/containers/create", create(NetworkingConfig={"EndpointsConfig": {"default": endpoint}}))


@pytest.mark.parametrize(
    ("network", "endpoint", "rule", "field"),
    [
        ("b-net", {}, "network-not-owned", "NetworkingConfig.EndpointsConfig.b-net"),
        (
            "shared-net",
            {"Aliases": ["db"]},
            "endpoint-claim",
            "NetworkingConfig.EndpointsConfig.shared-net.Aliases",
        ),
        (
            "shared-net",
            {"IPAMConfig": {"IPv4Address": "172.30.0.9"}},
            "endpoint-claim",
            "NetworkingConfig.EndpointsConfig.shared-net.IPAMConfig.IPv4Address",
        ),
        (
            "default",
            {"MacAddress": "02:42:ac:11:00:02"},
            "endpoint-claim",
            "NetworkingConfig.EndpointsConfig.default.MacAddress",
        ),
        (
            "a-net",
            {"Links": ["b-db:db"]},
            "links-not-owned",
            "NetworkingConfig.EndpointsConfig.a-net.Links[0]",
        ),
        (
            "a-net",
            {"DriverOpts": {"com.docker.network.endpoint.sysctls": "x"}},
            "endpoint-driver-opts",
            "NetworkingConfig.EndpointsConfig.a-net.DriverOpts",
        ),
    ],
)
def test_endpoints_of_a_create_claim_only_what_is_theirs_to_claim(
    network: str, endpoint: dict[str, Any], rule: str, field: str
) -> None:
    body = create(NetworkingConfig={"EndpointsConfig": {network: endpoint}})
    refused(rule, field, "POST", "/containers/create", body)


def test_own_network_endpoint_may_claim_addresses_and_aliases() -> None:
    endpoint = {"Aliases": ["api"], "IPAMConfig": {"IPv4Address": "172.30.0.9"}, "Links": ["a-app:app"]}
    call("POST", "/containers/create", create(NetworkingConfig={"EndpointsConfig": {"a-net": endpoint}}))


def test_connect_checks_the_container_and_the_endpoint() -> None:
    call("POST", "/networks/a-net/connect", {"Container": "a-app", "EndpointConfig": {"Aliases": ["x"]}})
    call("POST", "/networks/shared-net/connect", {"Container": "a-app"})
    refused("container-not-owned", "Container", "POST", "/networks/a-net/connect", {"Container": "b-db"})
    refused(
        "endpoint-claim",
        "EndpointConfig.IPAMConfig.IPv4Address",
        "POST",
        "/networks/shared-net/connect",
        {"Container": "a-app", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.0.0.5"}}},
    )
    refused(
        "links-not-owned",
        "EndpointConfig.Links[0]",
        "POST",
        "/networks/a-net/connect",
        {"container": "a-app", "endpointconfig": {"links": ["/b-db:/a-app/db"]}},
    )


def test_a_build_may_use_only_a_usable_network() -> None:
    refused("network-not-owned", "networkmode", "POST", "/build", query={"networkmode": ["b-net"]})
    call("POST", "/build", query={"networkmode": ["a-net"]})


# -- start and restart


def _inspect(host_config: dict[str, Any], networks: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"HostConfig": host_config, "NetworkSettings": {"Networks": networks or {}}}


@pytest.mark.parametrize("action", ["start", "restart"])
@pytest.mark.parametrize(
    ("inspect", "field"),
    [
        (_inspect({"NetworkMode": "container:b-db"}), "HostConfig.NetworkMode"),
        (_inspect({"PidMode": "container:b-db"}), "HostConfig.PidMode"),
        (_inspect({"IpcMode": "container:b-db"}), "HostConfig.IpcMode"),
        (_inspect({"Links": ["/b-db:/a-old/db"]}), "HostConfig.Links[0]"),
        (
            _inspect({"NetworkMode": "b-net"}, {"b-net": {"NetworkID": "b-net-id"}}),
            "NetworkSettings.Networks.b-net",
        ),
    ],
)
def test_start_and_restart_check_again_what_the_engine_resolves_again(
    action: str, inspect: dict[str, Any], field: str
) -> None:
    facts = TwoTeams(inspects={"a-old": inspect})
    refused("reference-not-owned" if field.startswith("HostConfig") else "network-not-owned", field, "POST",
            f"/containers/a-old/{action}", facts=facts)  # fmt: skip


def test_start_passes_own_and_vanished_references() -> None:
    inspect = _inspect(
        {"NetworkMode": "container:a-app", "PidMode": "container:gone", "Links": ["/a-app:/a-old/app"]},
        {"a-net": {"NetworkID": "a-net"}, "bridge": {"NetworkID": "x"}, "gone-net": {"NetworkID": "gone"}},
    )
    call("POST", "/containers/a-old/start", facts=TwoTeams(inspects={"a-old": inspect}))
    call("POST", "/containers/missing/restart")


# -- images


def test_tag_over_another_team_s_tag_is_refused() -> None:
    refused(
        "image-not-owned",
        "repo",
        "POST",
        f"/images/{IMAGE}/tag",
        query={"repo": ["dwtest/app"], "tag": ["1"]},
    )
    refused(
        "image-not-owned", "repo", "POST", f"/images/{IMAGE}/tag", query={"repo": ["docker.io/dwtest/app:1"]}
    )
    call("POST", f"/images/{IMAGE}/tag", query={"repo": ["dwtest/app"], "tag": ["2"]})


def test_tag_and_push_honour_the_allowed_registries() -> None:
    refused(
        "registry",
        "repo",
        "POST",
        f"/images/{IMAGE}/tag",
        query={"repo": ["evil.example.com/x"], "tag": ["1"]},
    )
    refused("registry", "name", "POST", "/images/evil.example.com/x/push", query={"tag": ["1"]})
    call("POST", "/images/localhost:5000/x/push", query={"tag": ["1"]})


def test_push_of_another_team_s_image_is_refused() -> None:
    refused("image-not-owned", "name", "POST", "/images/dwtest/secret/push", query={"tag": ["1"]})


def test_commit_over_another_team_s_tag_or_with_owner_labels_is_refused() -> None:
    refused(
        "image-not-owned",
        "repo",
        "POST",
        "/commit",
        query={"container": ["a-app"], "repo": ["dwtest/app"], "tag": ["1"]},
    )
    refused(
        "container-not-owned",
        "container",
        "POST",
        "/commit",
        query={"container": ["b-db"], "repo": ["dwtest/x"]},
    )
    refused(
        "owner-label",
        "Labels",
        "POST",
        "/commit",
        {"Labels": {"dockerweb.owner.team": "blue"}},
        {"container": ["a-app"]},
    )
    call("POST", "/commit", {"Labels": {"tier": "db"}}, {"container": ["a-app"], "repo": ["dwtest/mine"]})


@pytest.mark.parametrize(
    "changes",
    [
        ["LABEL dockerweb.owner.team=blue"],
        ['LABEL "dockerweb.owner.team"="blue"'],
        ["label docker\\web.owner.user=bob"],
        ["LABEL a=b \\", "dockerweb.owner.team=blue"],
        ["ENV K=dockerweb.owner.team", "LABEL $K=blue"],
    ],
)
def test_commit_and_import_changes_cannot_plant_owner_labels(changes: list[str]) -> None:
    refused("owner-label", "changes", "POST", "/commit", query={"container": ["a-app"], "changes": changes})
    refused("owner-label", "changes", "POST", "/images/create", query={"fromSrc": ["-"], "changes": changes})


def test_import_over_another_team_s_tag_is_refused() -> None:
    query = {"fromSrc": ["-"], "repo": ["dwtest/app"], "tag": ["1"]}
    refused("image-not-owned", "repo", "POST", "/images/create", query=query)


def test_build_tags_and_labels() -> None:
    refused("image-not-owned", "t", "POST", "/build", query={"t": ["dwtest/mine:1", "dwtest/app:1"]})
    refused("owner-label", "labels", "POST", "/build", query={"labels": ['{"dockerweb.owner.user": "bob"}']})
    call("POST", "/build", query={"t": ["dwtest/mine:1"], "labels": ['{"tier": "db"}']})


def test_another_team_s_image_is_exported_by_an_admin_only() -> None:
    refused("image-export-not-owned", "name", "GET", "/images/dwtest/secret:1/get")
    refused(
        "image-export-not-owned", "names", "GET", "/images/get", query={"names": [IMAGE, "dwtest/secret:1"]}
    )
    call("GET", f"/images/{IMAGE}/get")


def test_removing_another_team_s_tag_is_refused() -> None:
    refused("image-not-owned", "name", "DELETE", "/images/dwtest/app:1")
    call("DELETE", "/images/dwtest/mine:1")


@pytest.mark.parametrize(
    ("reference", "normalized"),
    [
        ("app", "docker.io/library/app:latest"),
        ("dwtest/app:1", "docker.io/dwtest/app:1"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("x@sha256:" + "a" * 64, "docker.io/library/x@sha256:" + "a" * 64),
        ("sha256:" + "b" * 64, "sha256:" + "b" * 64),
    ],
)
def test_references_normalize_as_the_engine_names_them(reference: str, normalized: str) -> None:
    assert normalize_reference(reference) == normalized


# -- images/load


def _tar(files: dict[str, bytes | str], compress: bool = False) -> io.BytesIO:
    """A tar of regular files (bytes) and symlinks (str: the target)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    data = gzip.compress(raw.getvalue()) if compress else raw.getvalue()
    return io.BytesIO(data)


def _manifest(*tags: str) -> bytes:
    return json.dumps([{"Config": "c.json", "RepoTags": list(tags), "Layers": []}]).encode()


def test_load_tags_come_from_the_manifest_plain_or_compressed() -> None:
    for compress in (False, True):
        found = tags_in_image_tar(_tar({"manifest.json": _manifest("dwtest/app:1", "mine")}, compress))
        assert found == ["docker.io/dwtest/app:1", "docker.io/library/mine:latest"]


def test_load_reads_the_manifest_as_the_engine_extracts_it() -> None:
    tar = _tar({"manifest.json": _manifest("decoy:1"), "./x/../manifest.json": _manifest("dwtest/app:1")})
    assert tags_in_image_tar(tar) == ["docker.io/dwtest/app:1"]


def test_load_reads_legacy_repositories_and_oci_index_names() -> None:
    repositories = json.dumps({"dwtest/app": {"1": "a" * 64}}).encode()
    index = json.dumps(
        {"manifests": [{"annotations": {"io.containerd.image.name": "docker.io/dwtest/other:2",
                                        "org.opencontainers.image.ref.name": "2"}}]}
    ).encode()  # fmt: skip
    found = tags_in_image_tar(_tar({"repositories": repositories, "index.json": index}))
    assert found == ["docker.io/dwtest/app:1", "docker.io/dwtest/other:2"]


@pytest.mark.parametrize(
    "files",
    [
        {"manifest.json": "other.json", "other.json": _manifest("dwtest/app:1")},
        {"manifest.json": b"[{]"},
        {"manifest.json": b'[{"RepoTags": ["a:1"], "repotags": ["dwtest/app:1"]}]'},
        {"manifest.json": b'[{"RepoTags": [1]}]'},
    ],
)
def test_load_refuses_a_manifest_it_might_read_otherwise(files: dict[str, bytes | str]) -> None:
    with pytest.raises(Denied) as denied:
        tags_in_image_tar(_tar(files))
    assert denied.value.rule in ("bad-image-archive", "duplicate-key")


def test_load_refuses_what_is_not_a_tar() -> None:
    with pytest.raises(Denied) as denied:
        tags_in_image_tar(io.BytesIO(b"not a tar at all" * 100))
    assert denied.value.rule == "bad-image-archive"


def test_loaded_tags_are_checked_like_any_tag() -> None:
    with pytest.raises(Denied) as denied:
        check_loaded_tags(["docker.io/dwtest/mine:1", "docker.io/dwtest/app:1"], TwoTeams())
    assert denied.value.rule == "image-not-owned"
    check_loaded_tags(["docker.io/dwtest/mine:1"], TwoTeams())
