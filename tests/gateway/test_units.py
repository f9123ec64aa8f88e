"""The gateway's pure parts: routing, call kinds, audit paths, list and event filtering, progress errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from hosts.access import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from hosts.gateway import conf, filtering, routing

MINE = {OWNER_USER_LABEL: "bob", OWNER_TEAM_LABEL: "blue"}
THEIRS = {OWNER_USER_LABEL: "carol", OWNER_TEAM_LABEL: "red"}
REPO = "localhost:5000/busybox"  # a name with '/' and ':' unescaped, as the CLI sends it
PUSH = f"{REPO}/push".encode()


def mine(labels: filtering.Labels) -> bool:
    return (labels or {}).get(OWNER_TEAM_LABEL) == "blue"


@pytest.mark.parametrize(
    ("raw", "host", "path", "query"),
    [
        (b"/hosts/prod-1/_ping", "prod-1", "/_ping", ""),
        (b"/hosts/prod-1/v1.41/containers/json?all=1", "prod-1", "/v1.41/containers/json", "all=1"),
        (b"/hosts/a.b_c/v1.50/images/" + PUSH + b"?tag=1", "a.b_c", f"/v1.50/images/{REPO}/push", "tag=1"),
        (b"/session", "", "/session", ""),
        (b"/grpc", "", "/grpc", ""),
    ],
)  # fmt: skip
def test_targets_route_to_a_host_and_keep_the_docker_path_as_sent(
    raw: bytes, host: str, path: str, query: str
) -> None:
    target = routing.parse_target(raw)
    assert (target.host_name, target.path, target.query_string) == (host, path, query)
    assert target.engine_target == raw.removeprefix(f"/hosts/{host}".encode() if host else b"")
    assert target.buildkit is (host == "")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"/v1.41/containers/json", 404),
        (b"/hosts/", 404),
        (b"/hosts/-bad/_ping", 404),
        (b"/hosts/ok", 404),
        (b"/hosts/ok/", 404),
        (b"/hosts/ok/v1.41/containers/../x", 400),
        (b"/hosts/ok/v1.41//containers/json", 400),
        (b"http://evil/hosts/ok/_ping", 400),
        ("/hosts/ok/\u00e9".encode(), 400),
    ],
)
def test_targets_that_name_no_host_are_refused(raw: bytes, status: int) -> None:
    with pytest.raises(routing.BadTarget) as refused:
        routing.parse_target(raw)
    assert refused.value.status == status and refused.value.message


@pytest.mark.parametrize(
    ("method", "path", "action", "ref", "kind"),
    [
        ("POST", "/v1.41/containers/create", "container.create", "", {"audited"}),
        ("POST", "/v1.41/containers/abc/attach", "container.attach", "abc", {"audited", "hijacks"}),
        ("POST", "/v1.41/exec/e1/start", "exec.start", "e1", {"audited", "hijacks"}),
        ("POST", "/v1.41/containers/abc/exec", "exec.create", "abc", {"audited"}),
        ("POST", "/v1.41/containers/abc/wait", "container.wait", "abc", set()),
        ("POST", "/v1.41/containers/abc/resize", "container.resize", "abc", set()),
        ("DELETE", "/containers/abc", "container.remove", "abc", {"audited"}),
        ("GET", "/v1.41/containers/abc/logs", "engine.get", "", {"bulk"}),
        ("GET", "/v1.41/containers/json", "engine.get", "", {"listing"}),
        ("GET", "/v1.41/containers/abc/json", "engine.get", "", {"listing"}),
        ("GET", "/v1.41/events", "engine.get", "", {"bulk", "listing"}),
        ("POST", f"/images/{REPO}/push", "image.push", REPO, {"audited", "progress"}),
        ("POST", "/v1.41/images/create", "image.pull", "", {"audited", "progress"}),
        ("POST", "/v1.41/build", "image.build", "", {"audited", "progress"}),
        ("DELETE", f"/v1.41/images/{REPO}:1", "image.remove", f"{REPO}:1", {"audited"}),
        ("POST", "/v1.41/networks/create", "network.create", "", {"audited"}),
        ("DELETE", "/v1.41/volumes/data", "volume.remove", "data", {"audited"}),
        ("POST", "/session", "buildkit.session", "", {"audited"}),
        ("HEAD", "/_ping", "engine.head", "", set()),
    ],
)  # fmt: skip
def test_calls_are_classified_for_relaying_and_auditing(
    method: str, path: str, action: str, ref: str, kind: set[str]
) -> None:
    endpoint = routing.classify(method, path)
    assert (endpoint.action, endpoint.object_ref) == (action, ref)
    flags = {"audited", "hijacks", "bulk", "progress"}
    assert {flag for flag in flags if getattr(endpoint, flag)} == kind - {"listing"}
    assert (endpoint.listing is not None) == ("listing" in kind)


def test_audit_paths_drop_the_version_and_redact_secrets() -> None:
    endpoint = routing.classify("POST", "/v1.41/build")
    query = {"t": ["app:1"], "buildargs": ['{"DB_PASSWORD": "hunter2"}'], "registry_token": ["x"]}
    path = routing.audit_path(endpoint, query)
    assert path.startswith("/build?t=app%3A1") and "hunter2" not in path and path.count("redacted") == 2
    assert routing.object_name(endpoint, query) == "app:1"
    pull = routing.classify("POST", "/images/create")
    assert routing.object_name(pull, {"fromImage": ["localhost:5000/busybox"], "tag": ["1"]}) == (
        "localhost:5000/busybox:1"
    )


def test_listings_keep_only_visible_objects() -> None:
    containers = [{"Id": "a", "Labels": MINE}, {"Id": "b", "Labels": THEIRS}, {"Id": "c", "Labels": None}]
    kept = json.loads(filtering.filter_listing("containers", json.dumps(containers).encode(), mine))
    assert [c["Id"] for c in kept] == ["a"]
    volumes = {
        "Volumes": [{"Name": "v1", "Labels": THEIRS}, {"Name": "v2", "Labels": MINE}],
        "Warnings": None,
    }
    kept = json.loads(filtering.filter_listing("volumes", json.dumps(volumes).encode(), mine))
    assert [v["Name"] for v in kept["Volumes"]] == ["v2"] and kept["Warnings"] is None
    df = {"Containers": containers, "Volumes": volumes["Volumes"], "Images": [{"Id": "i"}]}
    kept = json.loads(filtering.filter_listing("df", json.dumps(df).encode(), mine))
    assert [c["Id"] for c in kept["Containers"]] == ["a"] and kept["Images"] == [{"Id": "i"}]
    assert filtering.filter_listing("containers", b'{"message": "x"}', mine) == b'{"message": "x"}'
    inspect = {"Id": "a", "Config": {"Env": ["PATH=/bin", "DB_PASSWORD=hunter2", "EMPTY"]}}
    hidden = json.loads(filtering.filter_listing("container", json.dumps(inspect).encode(), mine))
    assert hidden["Config"]["Env"] == ["PATH=[hidden]", "DB_PASSWORD=[hidden]", "EMPTY=[hidden]"]


def test_events_are_filtered_line_by_line_across_chunks() -> None:
    async def lookup(kind: str, object_id: str) -> filtering.Labels:
        return {"net-mine": MINE, "net-theirs": THEIRS}.get(object_id)

    def event(kind: str, actor: str, attributes: dict[str, str] | None = None) -> bytes:
        return json.dumps(
            {"Type": kind, "Action": "x", "Actor": {"ID": actor, "Attributes": attributes or {}}}
        ).encode()

    stream = (
        b"\n".join(
            [
                event("container", "c-mine", {**MINE, "name": "a"}),
                event("container", "c-theirs", THEIRS),
                event("image", "busybox"),
                event("network", "net-mine"),
                event("network", "net-theirs"),
                event("daemon", "d"),
                b"not json",
            ]
        )
        + b"\n"
    )
    events = filtering.EventFilter(mine, lookup)

    async def feed() -> bytes:
        out = b""
        for start in range(0, len(stream), 7):  # split mid-line on purpose
            out += await events.feed(stream[start : start + 7])
        return out

    kept = [json.loads(line)["Actor"]["ID"] for line in asyncio.run(feed()).splitlines()]
    assert kept == ["c-mine", "busybox", "net-mine"]


def test_a_line_longer_than_the_limit_is_dropped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf, "MAX_STREAM_LINE_BYTES", 10)
    splitter = filtering.LineSplitter()
    assert splitter.feed(b"short\n" + b"x" * 20) == [b"short\n"]
    assert splitter.feed(b"xxxx\nnext\n") == [b"next\n"]


def test_progress_errors_inside_a_200_are_found() -> None:
    scanner = filtering.ProgressScanner()
    scanner.feed(b'{"status":"Pulling"}\n{"errorDetail":{"message":"manifest unknown"},')
    assert scanner.error == ""
    scanner.feed(b'"error":"manifest unknown"}\n')
    assert scanner.error == "manifest unknown"
    last = filtering.ProgressScanner()
    last.feed(b'{"stream":"Step 1/2"}\n{"error":"returned a non-zero code: 3"}')
    last.finish()
    assert last.error == "returned a non-zero code: 3"
