"""The admission policy as pure logic: the corpus through check_request with a fake Facts, plus its parts."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from hosts.policy import (
    DEFAULT_CAPABILITIES,
    MAX_BODY_BYTES,
    OWNER_TEAM_LABEL,
    OWNER_USER_LABEL,
    Denied,
    NetworkFacts,
    Ownership,
    PolicySettings,
    PolicySettingsError,
    apply_owner_labels,
    body_needed,
    canonical_path,
    check_build,
    check_container_create,
    check_exec_create,
    check_image_create,
    check_network_create,
    check_request,
    check_volume_create,
    ci_get,
    normalize_image,
    parse_json_body,
)
from tests.policy.corpus import (
    CLI_RUN_BODY,
    ESCALATIONS,
    IMAGE,
    MINE_EXEC,
    OPT_VOLUME,
    ORDINARY,
    POLICY_MINE,
    POLICY_THEIRS,
    SETTINGS,
    USER_NETWORK,
    Case,
    MiB,
    create,
)


class FakeFacts:
    """What the caller would answer from the engine, for the corpus's fixed names."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def owns_container(self, ref: str) -> bool:
        self.asked.append(("container", ref))
        return ref == POLICY_MINE

    def owns_exec(self, exec_id: str) -> bool:
        self.asked.append(("exec", exec_id))
        return exec_id == MINE_EXEC

    def volume_has_driver_opts(self, name: str) -> bool:
        self.asked.append(("volume", name))
        return name == OPT_VOLUME

    def container_ownership(self, ref: str) -> Ownership | None:
        return {POLICY_MINE: Ownership.MINE, POLICY_THEIRS: Ownership.OTHERS}.get(ref)

    def container_inspect(self, ref: str) -> dict[str, Any] | None:
        return None

    def volume_ownership(self, name: str) -> Ownership | None:
        return Ownership.MINE if name == OPT_VOLUME else None

    def create_owned_volume(self, name: str, labels: dict[str, str]) -> Ownership:
        return Ownership.MINE

    def network(self, ref: str) -> NetworkFacts | None:
        if ref == USER_NETWORK:
            return NetworkFacts(USER_NETWORK, "bridge", Ownership.MINE)
        return None

    def tag_owned_by_others(self, reference: str) -> str | None:
        return None

    def image_owned_by_others(self, reference: str) -> str | None:
        return None


def run(case: Case, settings: PolicySettings = SETTINGS, **kwargs: Any) -> bytes | None:
    return check_request(
        case.method, case.path, dict(case.query), case.content_type, case.raw, settings, FakeFacts(), **kwargs
    )


def test_the_corpus_is_as_large_as_the_issue_asks() -> None:
    assert len(ESCALATIONS) >= 45 and len(ORDINARY) >= 25
    names = [case.name for case in ESCALATIONS + ORDINARY]
    assert len(names) == len(set(names))
    assert all(case.rule and case.field for case in ESCALATIONS)


@pytest.mark.parametrize("case", ESCALATIONS, ids=lambda case: case.name)
def test_every_escalation_is_denied_with_its_rule_and_field(case: Case) -> None:
    with pytest.raises(Denied) as denied:
        run(case)
    assert (denied.value.rule, denied.value.field) == (case.rule, case.field), denied.value.message
    assert denied.value.as_dict() == {"rule": case.rule, "field": case.field, "detail": denied.value.message}
    assert denied.value.message.endswith(".")


@pytest.mark.parametrize("case", ORDINARY, ids=lambda case: case.name)
def test_every_ordinary_request_passes(case: Case) -> None:
    forwarded = run(case)
    if forwarded is not None:
        assert isinstance(json.loads(forwarded), dict)


@pytest.mark.parametrize("case", ORDINARY, ids=lambda case: case.name)
def test_ordinary_requests_pass_with_an_admin_s_empty_settings_too(case: Case) -> None:
    run(case, PolicySettings(allowed_bind_prefixes=SETTINGS.allowed_bind_prefixes))


# -- parsing


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", " application/json"],
)
def test_json_content_types_accepted(content_type: str) -> None:
    assert parse_json_body(b'{"a": 1}', content_type) == {"a": 1}


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/jsonx", "application/vnd.docker+json", "json"]
)
def test_other_content_types_refused(content_type: str | None) -> None:
    with pytest.raises(Denied) as denied:
        parse_json_body(b"{}", content_type)
    assert denied.value.rule == "bad-content-type"


def test_body_size_cap_is_exactly_one_mib() -> None:
    padding = MAX_BODY_BYTES - len(b'{"a":""}')
    assert parse_json_body(b'{"a":"' + b"x" * padding + b'"}', "application/json")
    with pytest.raises(Denied, match="body-too-large"):
        parse_json_body(b'{"a":"' + b"x" * (padding + 1) + b'"}', "application/json")


def test_duplicates_are_refused_at_any_depth_but_distinct_keys_are_not() -> None:
    for raw in (b'{"a": {"b": [{"K": 1, "k": 2}]}}', b'{"a": {"x": 1, "x": 1}}', b'{"\\u017f": 1, "S": 2}'):
        with pytest.raises(Denied, match="duplicate-key"):
            parse_json_body(raw, "application/json")
    assert parse_json_body(b'{"a": {"ab": 1, "ba": 2}, "b": {"ab": 3}}', "application/json")


def test_keys_are_looked_up_as_go_matches_them() -> None:
    body: dict[str, Any] = {"ho\u017ftconfig": {"MAS\u212aEDPATHS": []}}
    assert ci_get(ci_get(body, "HostConfig"), "MaskedPaths") == []
    assert ci_get(body, "Hostconfig2", "absent") == "absent"
    # A dotted capital I is not an i to Go, nor here.
    assert ci_get({"Pr\u0130vileged": True}, "Privileged") is None


# -- create: defaults, limits, labels


def test_a_create_without_limits_gets_the_defaults_and_is_reserialized() -> None:
    forwarded = run(Case("x", "POST", "/containers/create", create()))
    assert forwarded is not None
    host_config = json.loads(forwarded)["HostConfig"]
    assert host_config == {"Memory": SETTINGS.default_memory, "NanoCpus": SETTINGS.default_nano_cpus}


def test_defaults_reuse_the_clients_key_spelling() -> None:
    body = {"image": IMAGE, "hostconfig": {"memory": 0, "nanocpus": None}}
    checked = check_container_create(body, SETTINGS, FakeFacts())
    assert checked["hostconfig"] == {
        "memory": SETTINGS.default_memory,
        "nanocpus": SETTINGS.default_nano_cpus,
    }
    assert "HostConfig" not in checked


def test_without_a_default_the_maximum_is_the_default() -> None:
    settings = PolicySettings(max_memory=512 * MiB, max_nano_cpus=500_000_000)
    checked = check_container_create(create(), settings, FakeFacts())
    assert checked["HostConfig"] == {"Memory": 512 * MiB, "NanoCpus": 500_000_000}


def test_a_period_without_quota_gets_a_quota_not_nano_cpus() -> None:
    checked = check_container_create(create({"CpuPeriod": 50_000}), SETTINGS, FakeFacts())
    # dockerd refuses NanoCpus together with CpuPeriod; 1 CPU over a 50 ms period is a 50 ms quota.
    assert checked["HostConfig"] == {
        "CpuPeriod": 50_000,
        "CpuQuota": 50_000,
        "Memory": SETTINGS.default_memory,
    }


def test_limits_given_within_max_are_forwarded_unchanged() -> None:
    case = Case("x", "POST", "/containers/create", create({"Memory": 64 * MiB, "NanoCpus": 10**9}))
    assert run(case) is None


def test_no_settings_means_nothing_changes() -> None:
    assert run(Case("x", "POST", "/containers/create", CLI_RUN_BODY), PolicySettings()) is None


def test_the_callers_body_is_not_mutated() -> None:
    body = create({"Binds": ["policy-data:/data"]}, Labels={"a": "b"})
    before = copy.deepcopy(body)
    check_container_create(body, SETTINGS, FakeFacts())
    apply_owner_labels(body, "bob", "ops")
    assert body == before


@pytest.mark.parametrize(
    "planted", ["dockerweb.owner.user", "DockerWeb.Owner.Team", "DOCKERWEB.OWNER.anything"]
)
def test_owner_labels_a_client_sends_are_refused(planted: str) -> None:
    # Refused, not rewritten: a client reads back exactly the labels it wrote, and these are dockerweb's.
    body = {"image": IMAGE, "labels": {planted: "mallory", "app": "web"}}
    with pytest.raises(Denied) as denied:
        apply_owner_labels(body, "bob", "ops")
    assert (denied.value.rule, denied.value.field) == ("owner-label", "Labels")


def test_owner_labels_are_added_beside_the_clients_own_under_its_spelling_of_the_key() -> None:
    labelled = apply_owner_labels({"image": IMAGE, "labels": {"app": "web"}}, "bob", "ops")
    assert labelled["labels"] == {"app": "web", OWNER_USER_LABEL: "bob", OWNER_TEAM_LABEL: "ops"}
    assert "Labels" not in labelled


def test_owner_team_label_is_set_empty_without_a_team() -> None:
    # Otherwise a container would inherit a team label from its image's LABEL instructions.
    assert apply_owner_labels({}, "bob", None)["Labels"] == {OWNER_USER_LABEL: "bob", OWNER_TEAM_LABEL: ""}


@pytest.mark.parametrize(
    "path, body",
    [
        ("/containers/create", create()),
        ("/volumes/create", {"Name": "v", "Labels": {"app": "web"}}),
        ("/networks/create", {"Name": "n"}),
    ],
)
def test_check_request_applies_owner_labels_to_creates(path: str, body: dict[str, Any]) -> None:
    forwarded = run(Case("x", "POST", path, body), owner=("bob", "ops"))
    assert forwarded is not None
    labels = json.loads(forwarded)["Labels"]
    assert labels[OWNER_USER_LABEL] == "bob" and labels[OWNER_TEAM_LABEL] == "ops"


def test_check_request_refuses_owner_labels_planted_on_a_volume() -> None:
    planted = {"Name": "v", "Labels": {"dockerweb.owner.user": "mallory"}}
    with pytest.raises(Denied) as denied:
        run(Case("x", "POST", "/volumes/create", planted), owner=("bob", "ops"))
    assert denied.value.rule == "owner-label"


# -- allowlists and normalization


def test_capability_allowlist_is_per_host_but_the_never_list_is_not() -> None:
    settings = PolicySettings(capability_allowlist=frozenset({"cap_sys_time", "Chown"}))
    assert settings.capability_allowlist == {"SYS_TIME", "CHOWN"}
    check_container_create(create({"CapAdd": ["SYS_TIME", "CAP_CHOWN"]}), settings, FakeFacts())
    with pytest.raises(Denied, match="capability"):
        check_container_create(create({"CapAdd": ["NET_RAW"]}), settings, FakeFacts())
    for never in ("SYS_ADMIN", "cap_net_admin", "all", "sys_rawio"):
        with pytest.raises(PolicySettingsError, match="never"):
            PolicySettings(capability_allowlist=frozenset({never}))
    assert "NET_BIND_SERVICE" in DEFAULT_CAPABILITIES


def test_sysctl_allowlist_is_exact() -> None:
    settings = PolicySettings(sysctl_allowlist=frozenset({"net.core.somaxconn"}))
    check_container_create(create({"Sysctls": {"net.core.somaxconn": "1024"}}), settings, FakeFacts())
    for name in ("net/core/somaxconn", "NET.CORE.SOMAXCONN", "net.core.somaxconn2"):
        with pytest.raises(Denied, match="sysctl"):
            check_container_create(create({"Sysctls": {name: "1"}}), settings, FakeFacts())


@pytest.mark.parametrize(
    "ref, repository",
    [
        ("busybox", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io/library/busybox"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox"),
        ("library/busybox", "docker.io/library/busybox"),
        ("docker.io/busybox", "docker.io/library/busybox"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox"),
        ("bitnami/redis:7", "docker.io/bitnami/redis"),
        ("localhost/app", "localhost/app"),
        ("localhost:5000/busybox:1", "localhost:5000/busybox"),
        ("Registry.Internal/team/app", "registry.internal/team/app"),
        ("registry.internal:443/app:2", "registry.internal:443/app"),
    ],
)
def test_image_references_normalize_like_the_engine(ref: str, repository: str) -> None:
    assert normalize_image(ref) == repository


@pytest.mark.parametrize(
    "patterns, image, allowed",
    [
        ((), "anything.example.com/x", True),
        (("registry.internal/*",), "registry.internal/team/app:1", True),
        (("registry.internal",), "registry.internal/app", True),
        (("registry.internal/*",), "registry.internal.evil.com/app", False),
        (("registry.internal/*",), "registry.internal:5000/app", False),
        (("registry.internal/*",), "busybox", False),
        (("docker.io/library/*",), "busybox", True),
        (("docker.io/library/*",), "bitnami/redis", False),
        (("library/*",), "alpine:3", True),
        (("busybox",), "busybox:latest", True),
        (("busybox",), "busybox2", False),
        (("localhost:5000/*",), "localhost:5000/x/y:1", True),
        (("localhost:5000/*",), "localhost:5001/x", False),
        (("bitnami/*",), "docker.io/bitnami/redis", True),
    ],
)
def test_registry_allowlist(patterns: tuple[str, ...], image: str, allowed: bool) -> None:
    assert PolicySettings(allowed_registries=patterns).image_allowed(image) is allowed


def test_image_create_applies_the_registry_allowlist_to_pulls_only() -> None:
    settings = PolicySettings(allowed_registries=("registry.internal/*",))
    check_image_create({"fromImage": ["registry.internal/app"], "tag": ["1"]}, settings)
    check_image_create({"fromSrc": ["-"], "repo": ["anything"]}, settings)
    with pytest.raises(Denied, match="registry"):
        check_image_create({"fromImage": ["registry.internal/app", "evil.com/app"]}, settings)


@pytest.mark.parametrize(
    "source, allowed",
    [
        ("/srv/data", True),
        ("/srv/data/", True),
        ("/srv/data/x/y", True),
        ("/srv//data/./x", True),
        ("//srv/data", True),
        ("/srv/database", False),
        ("/srv/data/../etc", False),
        ("/srv/data/x/../../etc", False),
        ("/srv", False),
        ("/", False),
    ],
)
def test_bind_prefixes_match_normalized_paths(source: str, allowed: bool) -> None:
    assert PolicySettings(allowed_bind_prefixes=("/srv/data/",)).bind_allowed(source) is allowed


def test_named_volumes_in_binds_are_not_binds() -> None:
    facts = FakeFacts()
    check_container_create(create({"Binds": ["data:/data", "data2:/d:ro", "/anonymous"]}), SETTINGS, facts)
    assert facts.asked == [("volume", "data"), ("volume", "data2")]


# -- settings storage


def test_settings_round_trip_through_json() -> None:
    settings = PolicySettings(
        allowed_bind_prefixes=("/srv/data/",), allowed_registries=("registry.internal/*",),
        max_memory=2 * 1024 * MiB, default_memory=MiB * 512, capability_allowlist=frozenset({"CAP_CHOWN"}),
    )  # fmt: skip
    stored = json.loads(json.dumps(settings.to_dict()))
    assert stored["allowed_bind_prefixes"] == ["/srv/data"] and stored["capability_allowlist"] == ["CHOWN"]
    assert PolicySettings.from_dict(stored) == settings
    assert PolicySettings.from_dict({}) == PolicySettings()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"max_memory": -1}, "max_memory"),
        ({"max_memory": "1g"}, "max_memory"),
        ({"max_nano_cpus": True}, "max_nano_cpus"),
        ({"default_memory": 2, "max_memory": 1}, "above"),
        ({"allowed_bind_prefixes": ["relative/path"]}, "absolute"),
        ({"allowed_bind_prefixes": ["/"]}, "every host path"),
        ({"allowed_bind_prefixes": "/srv"}, "list of strings"),
        ({"allowed_registries": ["*"]}, "empty list"),
        ({"allowed_registries": ["reg*/x"]}, "final"),
        ({"capability_allowlist": ["SYS_ADMIN"]}, "never"),
        ({"sysctl_allowlist": [1]}, "list of strings"),
        ({"surprise": 1}, "unknown"),
    ],
)
def test_bad_settings_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicySettingsError, match=message):
        PolicySettings.from_dict(data)


# -- the router


@pytest.mark.parametrize(
    "path, canonical",
    [
        ("/v1.41/containers/create", "/containers/create"),
        ("/containers/create", "/containers/create"),
        ("/v1.41/containers%2Fcreate", "/containers/create"),
        ("/v1.41//containers/./x/../create/", "/containers/create"),
        ("/v1.41/containers/create?name=x", "/containers/create"),
        ("/v1.41/images/localhost:5000/busybox/push", "/images/localhost:5000/busybox/push"),
    ],
)
def test_canonical_path(path: str, canonical: str) -> None:
    assert canonical_path(path) == canonical


def test_body_needed_only_where_the_policy_reads_it() -> None:
    assert body_needed("POST", "/v1.41/containers/create")
    assert body_needed("post", "/containers/abc/exec")
    assert body_needed("POST", "/containers/abc/start")
    assert not body_needed("POST", "/build")
    assert not body_needed("PUT", "/containers/abc/archive")
    assert not body_needed("GET", "/containers/json")


def test_unknown_reads_pass_and_unknown_writes_do_not() -> None:
    assert run(Case("x", "GET", "/some/future/endpoint", None, None)) is None
    with pytest.raises(Denied, match="unknown-endpoint"):
        run(Case("x", "PATCH", "/containers/abc", {}, None))


def test_exec_checks_ownership_before_the_body() -> None:
    with pytest.raises(Denied, match="exec-not-owned"):
        check_exec_create({"Privileged": True}, FakeFacts(), "policy-theirs")
    check_exec_create({"Privileged": False, "Cmd": ["ls"]}, FakeFacts(), "/policy-mine")


def test_small_checks_callable_without_the_router() -> None:
    check_volume_create({"Name": "v", "Driver": "LOCAL", "DriverOpts": None})
    check_network_create({"Name": "n", "Driver": "overlay", "ConfigFrom": {"Network": ""}})
    check_build({"networkmode": ["default"], "cgroupparent": [""]})
    with pytest.raises(Denied, match="namespace-not-owned"):
        check_build({"networkmode": ["container:abc"]})


def test_a_typical_create_check_is_well_under_half_a_millisecond() -> None:
    raw = json.dumps(CLI_RUN_BODY).encode()
    facts = FakeFacts()
    runs = 1000
    began = time.perf_counter()
    for _ in range(runs):
        check_request(
            "POST", "/v1.41/containers/create", {"name": ["web"]}, "application/json", raw, SETTINGS, facts,
            owner=("bob", "ops"),
        )  # fmt: skip
    average = (time.perf_counter() - began) / runs
    assert average < 0.002, f"{average * 1e6:.0f} µs per check"
