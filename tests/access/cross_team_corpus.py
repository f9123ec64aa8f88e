# ruff: noqa: E501, RUF001, RUF005
# (a table of attacks: one attempt per line; U+017F and look-alikes are the point of some rows)
"""The cross-team corpus: attempts by team A's operator and viewer on team B's objects, as data.

Written from the engine API (moby api/server/router/*, swagger v1.41) and the clients (docker CLI,
docker-py's api/*.py: `_url` quotes each argument with safe="/:", requests removes dot segments), not from
dockerweb's model of a request. Every attempt must be refused; tests/access/test_cross_team.py runs each
on both engines and checks the engine afterwards.

Templates: `{key}` is replaced by a value of tests.access.conftest.Targets (B's `run`, `stop`, `vol`,
`net`, `exec`, `img`, `job`..., A's own `a_ctr`, `a_net`, `a_img`, `base`), `{key:N}` by its first N
characters. Other braces are left alone, so raw JSON bodies can be written as they are.
REST paths are relative to /api/v1/hosts/{pk} unless they start with /api/; gateway paths to
/hosts/{host}; websocket paths are absolute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPERATOR, VIEWER = "operator", "viewer"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
TAR = "application/x-tar"
B_OWNER = {"dockerweb.owner.team": "xteam-b", "dockerweb.owner.user": "bob-ops"}


@dataclass(frozen=True)
class Raw:
    """A body the runner makes: `context` (a build tar), `load` (a docker save naming B's tag),
    `import` (a one-file rootfs tar), `archive` (a tar to extract)."""

    kind: str


@dataclass(frozen=True)
class Attempt:
    id: str  # "<class>/<what>": the class of attack and the case
    who: str  # OPERATOR or VIEWER of team A
    via: str  # "rest", "ws" or "gateway"
    method: str
    path: str
    body: Any = None  # JSON-able (sent as JSON), str (sent as its UTF-8 bytes), Raw, or None
    content_type: str | None = JSON  # None: no Content-Type header at all
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def audited(self) -> bool:
        """Whether a refusal can name its caller: a header byte HTTP forbids (RFC 9110 field-value) fails
        the HTTP parser before the request, and so its credentials, is read at all."""
        return not any(ord(c) < 0x20 and c != "\t" for c in self.content_type or "")

    @property
    def kind(self) -> str:
        return self.id.split("/", 1)[0]


def rest(id: str, who: str, method: str, path: str, body: Any = None, ct: str | None = JSON) -> Attempt:
    return Attempt(id, who, "rest", method, path, body, ct)


def gw(
    id: str,
    who: str,
    method: str,
    path: str,
    body: Any = None,
    ct: str | None = JSON,
    headers: tuple[tuple[str, str], ...] = (),
) -> Attempt:
    return Attempt(id, who, "gateway", method, path, body, ct if body is not None else None, headers)


def ws(id: str, who: str, path: str) -> Attempt:
    return Attempt(id, who, "ws", "GET", path)


def create(host_config: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A container create body (engine API) running A's own base image."""
    body: dict[str, Any] = {"Image": "{base}", "Cmd": ["true"], **top}
    if host_config is not None:
        body["HostConfig"] = host_config
    return body


def rest_create(engine_body: dict[str, Any], **friendly: Any) -> dict[str, Any]:
    return {"image": "{base}", "command": ["true"], "engine_body": engine_body, **friendly}


BIND_B = create({"Binds": ["{vol}:/d"]})
BIND_B_TEXT = '{"Image": "{base}", "Cmd": ["true"], "HostConfig": {"Binds": ["{vol}:/d"]}}'
VOLUME_MOUNT_B = {"Type": "volume", "Source": "{vol}", "Target": "/d"}
C = "/v1.41/containers"

BODY_REFERENCES = {
    # name: engine create body naming B's volume, container or network
    "binds": BIND_B,
    "binds-ro": create({"Binds": ["{vol}:/d:ro"]}),
    "mounts": create({"Mounts": [VOLUME_MOUNT_B]}),
    "mounts-readonly": create({"Mounts": [{**VOLUME_MOUNT_B, "ReadOnly": True}]}),
    "volumes-from": create({"VolumesFrom": ["{run}"]}),
    "volumes-from-id-prefix-ro": create({"VolumesFrom": ["{run_id:12}:ro"]}),
    "volumes-from-stopped": create({"VolumesFrom": ["{stop}"]}),
    "netmode-container": create({"NetworkMode": "container:{run}"}),
    "netmode-container-slash": create({"NetworkMode": "container:/{run}"}),
    "netmode-container-id-prefix": create({"NetworkMode": "container:{run_id:10}"}),
    "netmode-container-route-word": create({"NetworkMode": "container:json"}),
    "pidmode-container": create({"PidMode": "container:{run}"}),
    "ipcmode-container": create({"IpcMode": "container:{run}"}),
    "netmode-b-network": create({"NetworkMode": "{net}"}),
    "netmode-b-network-id": create({"NetworkMode": "{net_id:12}"}),
    "endpoints-b-network": create(NetworkingConfig={"EndpointsConfig": {"{net}": {}}}),
    "endpoints-b-network-id": create(NetworkingConfig={"EndpointsConfig": {"{net_id}": {}}}),
    "endpoints-b-network-alias": create(
        {"NetworkMode": "{net}"}, NetworkingConfig={"EndpointsConfig": {"{net}": {"Aliases": ["{run}"]}}}
    ),
    "links": create({"Links": ["{run}:b"]}),
    "links-slash": create({"Links": ["/{run}:/xa/b"]}),
    "links-on-a-network": create(
        {"NetworkMode": "{a_net}"}, NetworkingConfig={"EndpointsConfig": {"{a_net}": {"Links": ["{run}:b"]}}}
    ),
}

PLANTED = {
    "labels": create(Labels=B_OWNER),
    "labels-case-folded": create(
        Labels={"Dockerweb.Owner.Team": "xteam-b", "DOCKERWEB.OWNER.USER": "bob-ops"}
    ),
    "mount-volume-options": create(
        {
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": "xa-planted-vol",
                    "Target": "/d",
                    "VolumeOptions": {"Labels": B_OWNER},
                }
            ]
        }
    ),
}

# Bodies whose keys Go's encoding/json matches case-insensitively (bytes.EqualFold: U+017F folds to s,
# U+212A to k), or that repeat a key (Go: the last wins, and a repeated object merges into the first).
PARSER_BODIES = {
    "key-lowercase": '{"Image": "{base}", "hostconfig": {"binds": ["{vol}:/d"]}}',
    "key-uppercase": '{"Image": "{base}", "HOSTCONFIG": {"MOUNTS": [{"Type": "volume", "Source": "{vol}", '
    '"Target": "/d"}]}}',
    "key-long-s-binds": '{"Image": "{base}", "HostConfig": {"Bind\\u017f": ["{vol}:/d"]}}',
    "key-long-s-raw-utf8": '{"Image": "{base}", "HostConfig": {"Bindſ": ["{vol}:/d"]}}',
    "key-long-s-volumesfrom": '{"Image": "{base}", "HostConfig": {"Volume\\u017fFrom": ["{run}"]}}',
    "key-kelvin-networkmode": '{"Image": "{base}", "HostConfig": {"Networ\\u212aMode": "container:{run}"}}',
    "key-lowercase-pidmode": '{"Image": "{base}", "HostConfig": {"pidmode": "container:{run}"}}',
    "key-lowercase-endpoints": '{"Image": "{base}", "networkingconfig": {"endpointsconfig": {"{net}": {}}}}',
    "key-long-s-labels": '{"Image": "{base}", "Label\\u017f": {"dockerweb.owner.team": "xteam-b"}}',
    "duplicate-key-last-wins": '{"Image": "{base}", "HostConfig": {"Binds": []}, '
    '"HostConfig": {"Binds": ["{vol}:/d"]}}',
    "duplicate-object-merges": '{"Image": "{base}", "HostConfig": {"Binds": ["{vol}:/d"]}, "HostConfig": {}}',
    "duplicate-key-other-case": '{"Image": "{base}", "HostConfig": {"Binds": []}, '
    '"hostConfig": {"Binds": ["{vol}:/d"]}}',
    "duplicate-inner-key": '{"Image": "{base}", "HostConfig": {"Binds": [], "binds": ["{vol}:/d"]}}',
}

CONTENT_TYPES = {
    "none": None,
    "uppercase": "Application/JSON",
    "charset": "application/json; charset=utf-8",
    "text-plain": "text/plain",
    "tab-byte": "application/json\t",
    "vertical-tab": "application/json\x0b",
    "form": FORM,
    "json-suffix": "application/vnd.docker+json",
    "list": "application/json, text/plain",
    "empty-params": "application/json;;",
}


def _containers_rest() -> list[Attempt]:
    attempts = [
        rest("plain/inspect", VIEWER, "GET", "/containers/{run}/"),
        rest("plain/remove", OPERATOR, "DELETE", "/containers/{run}/?force=true"),
        rest("plain/start-stopped", OPERATOR, "POST", "/containers/{stop}/start/"),
        rest("plain/kill", OPERATOR, "POST", "/containers/{run}/kill/"),
        rest("plain/rename", OPERATOR, "POST", "/containers/{run}/rename/", {"name": "xa-stolen"}),
        rest("plain/archive-read", OPERATOR, "GET", "/containers/{run}/archive/?path=/etc/hostname"),
        rest("plain/top", VIEWER, "GET", "/containers/{run}/top/"),
        rest("plain/logs", VIEWER, "GET", "/containers/{run}/logs/"),
        rest("id-prefix/inspect", VIEWER, "GET", "/containers/{run_id:12}/"),
        rest("id-prefix/remove", OPERATOR, "DELETE", "/containers/{run_id:5}/?force=true"),
        rest("id-prefix/stop", OPERATOR, "POST", "/containers/{run_id}/stop/?t=0"),
        rest("qmark/encoded-in-ref", OPERATOR, "DELETE", "/containers/{stop}%3F/"),
        rest("qmark/encoded-force", OPERATOR, "DELETE", "/containers/{run}%3Fforce=true/"),
        rest("hash/encoded-in-ref", OPERATOR, "DELETE", "/containers/{stop}%23/"),
        rest("pct2f/walk", VIEWER, "GET", "/containers/{a_ctr}%2F..%2F{run}/"),
        rest("pct2e/walk", OPERATOR, "POST", "/containers/%2E%2E%2Fcontainers%2F{run}/kill/"),
        rest("dotdot/raw", OPERATOR, "POST", "/containers/{a_ctr}/../{run}/kill/"),
        rest("dot/segment", VIEWER, "GET", "/containers/./{run}/"),
        rest("double-slash/before-ref", OPERATOR, "DELETE", "//containers//{stop}/"),
        rest("trailing-slash/doubled", OPERATOR, "DELETE", "/containers/{stop}//"),
        rest("leading-slash/encoded", VIEWER, "GET", "/containers/%2F{run}/"),
        rest("unicode/cyrillic-x", OPERATOR, "DELETE", "/containers/{stop_cyr}/"),
        rest("unicode/fullwidth-solidus", VIEWER, "GET", "/containers/..\uff0f{run}/"),
        rest("route-word/inspect-json", VIEWER, "GET", "/containers/json/"),
        rest("route-word/remove-json", OPERATOR, "DELETE", "/containers/json/?force=true"),
        rest("route-word/kill-create", OPERATOR, "POST", "/containers/create/kill/"),
        rest("route-word/kill-prune", OPERATOR, "POST", "/containers/prune/kill/"),
        rest("route-word/changes-changes", VIEWER, "GET", "/containers/changes/changes/"),
        rest("route-word/top-top", VIEWER, "GET", "/containers/top/top/"),
    ]
    for name, body in {**BODY_REFERENCES, **PLANTED}.items():
        attempts.append(
            rest(f"body-reference/rest-{name}", OPERATOR, "POST", "/containers/", rest_create(body))
        )
    attempts += [
        rest("body-reference/rest-friendly-volume", OPERATOR, "POST", "/containers/",
             {"image": "{base}", "volumes": [{"volume": "{vol}", "target": "/d"}]}),
        rest("body-reference/rest-friendly-network", OPERATOR, "POST", "/containers/",
             {"image": "{base}", "network": "{net}"}),
        rest("body-reference/rest-friendly-network-container", OPERATOR, "POST", "/containers/",
             {"image": "{base}", "network": "container:{run}"}),
        rest("body-reference/rest-run-binds", OPERATOR, "POST", "/containers/run/", rest_create(BIND_B)),
        rest("label-plant/rest-friendly-labels", OPERATOR, "POST", "/containers/",
             {"image": "{base}", "labels": B_OWNER}),
        rest("json-case/rest-engine-body", OPERATOR, "POST", "/containers/",
             '{"image": "{base}", "engine_body": {"hostconfig": {"Bind\\u017f": ["{vol}:/d"]}}}'),
        rest("json-duplicate/rest-engine-body", OPERATOR, "POST", "/containers/",
             '{"image": "{base}", "engine_body": {"HostConfig": {"Binds": ["{vol}:/d"]}, "HostConfig": {}}}'),
    ]  # fmt: skip
    return attempts


BULK_REFS = {
    "plain": "{run}",
    "full-id": "{run_id}",
    "id-prefix": "{run_id:6}",
    "leading-slash": "/{run}",
    "dotdot-from-own": "{a_ctr}/../{run_id}",
    "dotdot-containers": "../containers/{run_id}",
    "qmark-dotdot": "{a_ctr}?/../../containers/{run_id}",
    "qmark-missing": "missing?x=/../../containers/{run_id}",
    "qmark-trailing": "{run}?",
    "hash-trailing": "{run}#",
    "hash-dotdot": "{a_ctr}#/../{run_id}",
    "pct3f": "{run}%3F",
    "pct2f-walk": "{a_ctr}%2F..%2F{run}",
    "pct2e-walk": "%2E%2E/containers/{run_id}",
    "dot-before": "./{run}",
    "dot-after": "{run}/.",
    "trailing-slash": "{run}/",
    "double-slash": "//{run}",
    "unicode-lookalike": "{run_cyr}",
    "route-word": "json",
}


def _bulk() -> list[Attempt]:
    attempts = [
        rest(f"bulk/remove-{name}", OPERATOR, "POST", "/api/v1/containers/bulk/",
             {"action": "remove", "force": True, "containers": [{"host": "{pk}", "id": ref}]})
        for name, ref in BULK_REFS.items()
    ]  # fmt: skip
    return attempts + [
        rest("bulk/kill-plain", OPERATOR, "POST", "/api/v1/containers/bulk/",
             {"action": "kill", "containers": [{"host": "{pk}", "id": "{run}"}]}),
        rest("bulk/start-stopped-qmark", OPERATOR, "POST", "/api/v1/containers/bulk/",
             {"action": "start", "containers": [{"host": "{pk}", "id": "{a_ctr}?/../../containers/{stop}"}]}),
        rest("bulk/viewer-stop", VIEWER, "POST", "/api/v1/containers/bulk/",
             {"action": "stop", "containers": [{"host": "{pk}", "id": "{run}"}]}),
    ]  # fmt: skip


def _images_walk() -> list[Attempt]:
    return [
        rest("images-walk/inspect-container", VIEWER, "GET", "/images/..%2Fcontainers%2F{run_id}/"),
        rest("images-walk/inspect-deep", VIEWER, "GET", "/images/x%2F..%2F..%2Fcontainers%2F{run_id}/"),
        rest("images-walk/inspect-pct2e", VIEWER, "GET", "/images/%2E%2E/containers/{run_id}/"),
        rest("images-walk/inspect-qmark", VIEWER, "GET", "/images/..%2Fcontainers%2F{run}%2Fjson%3F/"),
        rest("images-walk/inspect-exec", VIEWER, "GET", "/images/..%2Fexec%2F{exec}/"),
        rest("images-walk/export-container", VIEWER, "GET",
             "/images/..%2Fcontainers%2F{run}%2Fexport%3F/export/"),
        rest("images-walk/remove-container", OPERATOR, "DELETE", "/images/..%2Fcontainers%2F{run_id}/"),
        rest("images-walk/remove-qmark", OPERATOR, "DELETE", "/images/..%2Fcontainers%2F{stop}%3F/"),
        rest("images-walk/remove-from-own-tag", OPERATOR, "DELETE",
             "/images/{a_img}%2F..%2F..%2Fcontainers%2F{run}/"),
        rest("images-walk/remove-volume", OPERATOR, "DELETE", "/images/..%2Fvolumes%2F{vol}/"),
        rest("images-walk/remove-network", OPERATOR, "DELETE", "/images/..%2Fnetworks%2F{net}/"),
        rest("images-walk/tag-starts-container", OPERATOR, "POST",
             "/images/..%2Fcontainers%2F{stop}%2Fstart%3F/tag/", {"repository": "xa-walk/x", "tag": "1"}),
        rest("images-walk/tag-starts-exec", OPERATOR, "POST",
             "/images/..%2Fexec%2F{exec}%2Fstart%3F/tag/", {"repository": "xa-walk/x", "tag": "1"}),
    ]  # fmt: skip


def _images_rest() -> list[Attempt]:
    tag_b = {"repository": "{img_repo}", "tag": "1"}
    return [
        rest("image-overwrite/rest-tag-own-image", OPERATOR, "POST", "/images/{a_img}/tag/", tag_b),
        rest("image-overwrite/rest-tag-base", OPERATOR, "POST", "/images/{base}/tag/", tag_b),
        rest("image-overwrite/rest-tag-registry-copy", OPERATOR, "POST", "/images/{a_img}/tag/",
             {"repository": "{registry}/{img_repo}", "tag": "1"}),
        rest("image-overwrite/rest-commit-over-tag", OPERATOR, "POST", "/images/commit/",
             {"container": "{a_ctr}", "image": "{img}"}),
        rest("image-overwrite/rest-build-tag", OPERATOR, "POST", "/images/build/",
             {"dockerfile_text": "FROM {base}\nLABEL xa=1\n", "tags": ["{img}"]}),
        rest("image-overwrite/rest-remove-b-tag", OPERATOR, "DELETE", "/images/{img}/"),
        rest("image-overwrite/rest-remove-b-id", OPERATOR, "DELETE", "/images/{img_id}/"),
        rest("image-read/rest-commit-b-container", OPERATOR, "POST", "/images/commit/",
             {"container": "{run}", "image": "xa-stolen/fs:1"}),
        rest("image-push/rest-push-b-image", OPERATOR, "POST", "/images/push/", {"image": "{reg_img}"}),
        rest("image-push/rest-push-b-as-source", OPERATOR, "POST", "/images/push/",
             {"image": "{registry}/xa-exfil:1", "source": "{img}"}),
        rest("image-export/rest-viewer-tag", VIEWER, "GET", "/images/{img}/export/"),
        rest("image-export/rest-viewer-id", VIEWER, "GET", "/images/{img_id}/export/"),
        rest("image-export/rest-viewer-short-id", VIEWER, "GET", "/images/{img_hex:12}/export/"),
        rest("form-body/rest-tag", OPERATOR, "POST", "/images/{a_img}/tag/",
             "repository={img_repo}&tag=1", FORM),
    ]  # fmt: skip


def _networks_volumes_rest() -> list[Attempt]:
    return [
        rest("network-connect/rest-own-to-b-network", OPERATOR, "POST", "/networks/{net}/connect/",
             {"container": "{a_ctr}"}),
        rest("network-connect/rest-b-to-own-network", OPERATOR, "POST", "/networks/{a_net}/connect/",
             {"container": "{run}"}),
        rest("network-connect/rest-b-id-prefix", OPERATOR, "POST", "/networks/{a_net}/connect/",
             {"container": "{run_id:12}"}),
        rest("network-connect/rest-b-leading-slash", OPERATOR, "POST", "/networks/{a_net}/connect/",
             {"container": "/{run}"}),
        rest("network-connect/rest-b-dotdot", OPERATOR, "POST", "/networks/{a_net}/connect/",
             {"container": "{a_ctr}/../{run}"}),
        rest("network-connect/rest-b-route-word", OPERATOR, "POST", "/networks/{a_net}/connect/",
             {"container": "json"}),
        rest("network-connect/rest-disconnect-b", OPERATOR, "POST", "/networks/{net}/disconnect/",
             {"container": "{run}", "force": True}),
        rest("form-body/rest-connect", OPERATOR, "POST", "/networks/{a_net}/connect/", "container={run}", FORM),
        rest("plain/network-inspect", VIEWER, "GET", "/networks/{net}/"),
        rest("plain/network-remove", OPERATOR, "DELETE", "/networks/{net}/"),
        rest("id-prefix/network-remove", OPERATOR, "DELETE", "/networks/{net_id:12}/"),
        rest("label-plant/rest-network", OPERATOR, "POST", "/networks/",
             {"name": "xa-planted-net", "labels": B_OWNER}),
        rest("plain/volume-inspect", VIEWER, "GET", "/volumes/{vol}/"),
        rest("plain/volume-remove", OPERATOR, "DELETE", "/volumes/{vol}/?force=true"),
        rest("qmark/volume-remove", OPERATOR, "DELETE", "/volumes/{vol}%3F/"),
        rest("pct2f/volume-remove", OPERATOR, "DELETE", "/volumes/.%2F{vol}/"),
        rest("unicode/volume-remove", OPERATOR, "DELETE", "/volumes/{vol_cyr}/"),
        rest("label-plant/rest-volume", OPERATOR, "POST", "/volumes/",
             {"name": "xa-planted-vol", "labels": B_OWNER}),
        rest("label-plant/rest-volume-case-folded", OPERATOR, "POST", "/volumes/",
             {"name": "xa-planted-vol", "labels": {"DOCKERWEB.OWNER.TEAM": "xteam-b"}}),
        rest("volume/rest-create-existing-b-name", OPERATOR, "POST", "/volumes/", {"name": "{vol}"}),
    ]  # fmt: skip


def _jobs() -> list[Attempt]:
    return [
        rest("job/read-operator", OPERATOR, "GET", "/api/v1/jobs/{job}/"),
        rest("job/read-viewer", VIEWER, "GET", "/api/v1/jobs/{job}/"),
        rest("job/read-no-dashes", OPERATOR, "GET", "/api/v1/jobs/{job_hex}/"),
        rest("job/read-uppercase", VIEWER, "GET", "/api/v1/jobs/{job_upper}/"),
        rest("job/cancel", OPERATOR, "POST", "/api/v1/jobs/{job}/cancel/"),
        rest("job/cancel-viewer", VIEWER, "POST", "/api/v1/jobs/{job}/cancel/"),
        rest("job/cancel-no-dashes", OPERATOR, "POST", "/api/v1/jobs/{job_hex}/cancel/"),
        rest("job/retry", OPERATOR, "POST", "/api/v1/jobs/{failed_job}/retry/"),
        ws("job/ws-operator", OPERATOR, "/ws/jobs/{job}/"),
        ws("job/ws-viewer", VIEWER, "/ws/jobs/{job}/"),
        ws("job/ws-uppercase", OPERATOR, "/ws/jobs/{job_upper}/"),
    ]


def _websockets() -> list[Attempt]:
    h = "/ws/hosts/{pk}"
    attempts = []
    for verb, who, query in (
        ("logs", VIEWER, "?tail=5&follow=0"),
        ("stats", VIEWER, ""),
        ("exec", OPERATOR, "?cmd=env&tty=0"),
        ("attach", OPERATOR, ""),
    ):
        for name, ref in (
            ("plain", "{run}"),
            ("full-id", "{run_id}"),
            ("id-prefix", "{run_id:8}"),
            ("route-word", "json"),
        ):
            attempts.append(ws(f"ws/{verb}-{name}", who, f"{h}/containers/{ref}/{verb}/{query}"))
    return attempts + [
        ws("ws/logs-leading-slash", VIEWER, f"{h}/containers/%2F{{run}}/logs/?tail=5&follow=0"),
        ws("ws/logs-qmark", VIEWER, f"{h}/containers/{{run}}%3F/logs/?tail=5&follow=0"),
        ws("ws/logs-hash", VIEWER, f"{h}/containers/{{run}}%23/logs/?tail=5&follow=0"),
        ws("ws/logs-dotdot", VIEWER, f"{h}/containers/%2E%2E/logs/?tail=5&follow=0"),
        ws("ws/logs-lookalike", VIEWER, f"{h}/containers/{{run_cyr}}/logs/?tail=5&follow=0"),
        ws("ws/exec-stopped", OPERATOR, f"{h}/containers/{{stop}}/exec/?cmd=env&tty=0"),
        ws("ws/attach-start-stopped", OPERATOR, f"{h}/containers/{{stop}}/attach/?start=1"),
        ws("ws/merged-logs", VIEWER, f"{h}/logs/?containers={{a_ctr}},{{run}}&tail=5&follow=0"),
        ws("ws/merged-logs-id", VIEWER, f"{h}/logs/?containers={{run_id}}&tail=5&follow=0"),
        ws(
            "ws/merged-logs-repeated",
            VIEWER,
            f"{h}/logs/?containers={{a_ctr}}&containers={{run}}&tail=5&follow=0",
        ),
    ]


def _gateway_containers() -> list[Attempt]:
    attempts = [
        gw("plain/gw-inspect", VIEWER, "GET", f"{C}/{{run}}/json"),
        gw("plain/gw-remove-stopped", OPERATOR, "DELETE", f"{C}/{{stop}}"),
        gw("plain/gw-kill", OPERATOR, "POST", f"{C}/{{run}}/kill"),
        gw("plain/gw-start-stopped", OPERATOR, "POST", f"{C}/{{stop}}/start"),
        gw("plain/gw-update", OPERATOR, "POST", f"{C}/{{run}}/update", {"RestartPolicy": {"Name": "always"}}),
        gw("plain/gw-rename", OPERATOR, "POST", f"{C}/{{run}}/rename?name=xa-stolen"),
        gw("plain/gw-exec-create", OPERATOR, "POST", f"{C}/{{run}}/exec",
           {"Cmd": ["env"], "AttachStdout": True}),
        gw("plain/gw-archive-read", OPERATOR, "GET", f"{C}/{{run}}/archive?path=/etc/hostname"),
        gw("plain/gw-archive-head", OPERATOR, "HEAD", f"{C}/{{run}}/archive?path=/etc/hostname"),
        gw("plain/gw-archive-write", OPERATOR, "PUT", f"{C}/{{run}}/archive?path=/tmp", Raw("archive"), TAR),
        gw("plain/gw-export", VIEWER, "GET", f"{C}/{{run}}/export"),
        gw("plain/gw-top", VIEWER, "GET", f"{C}/{{run}}/top"),
        gw("plain/gw-logs", VIEWER, "GET", f"{C}/{{run}}/logs?stdout=1&stderr=1"),
        gw("plain/gw-stats", VIEWER, "GET", f"{C}/{{run}}/stats?stream=0"),
        gw("plain/gw-changes", VIEWER, "GET", f"{C}/{{run}}/changes"),
        gw("plain/gw-attach-logs", OPERATOR, "POST", f"{C}/{{run}}/attach?logs=1&stdout=1&stream=0"),
        gw("plain/gw-resize", OPERATOR, "POST", f"{C}/{{run}}/resize?h=10&w=10"),
        gw("id-prefix/gw-inspect", VIEWER, "GET", f"{C}/{{run_id:12}}/json"),
        gw("id-prefix/gw-remove", OPERATOR, "DELETE", f"{C}/{{stop_id:5}}"),
        gw("id-prefix/gw-kill-full-id", OPERATOR, "POST", f"{C}/{{run_id}}/kill"),
        gw("leading-slash/gw-inspect", VIEWER, "GET", f"{C}/%2F{{run}}/json"),
        gw("leading-slash/gw-remove", OPERATOR, "DELETE", f"{C}/%2F{{stop}}"),
        gw("pct3f/gw-remove-force-in-name", OPERATOR, "DELETE", f"{C}/{{run}}%3Fforce=1"),
        gw("pct3f/gw-walk", VIEWER, "GET", f"{C}/{{a_ctr}}%3F/../../{{run}}/json"),
        gw("pct2f/gw-walk-inspect", VIEWER, "GET", f"{C}/{{a_ctr}}%2F..%2F{{run}}/json"),
        gw("pct2f/gw-walk-remove", OPERATOR, "DELETE", f"{C}/{{a_ctr}}%2F..%2F{{stop}}"),
        gw("pct2e/gw-walk", VIEWER, "GET", f"{C}/%2E%2E/containers/{{run}}/json"),
        gw("pct2e/gw-walk-kill", OPERATOR, "POST", f"{C}/{{a_ctr}}/%2e%2e/{{run}}/kill"),
        gw("dotdot/gw-inspect", VIEWER, "GET", f"{C}/{{a_ctr}}/../{{run}}/json"),
        gw("dotdot/gw-remove", OPERATOR, "DELETE", f"{C}/{{a_ctr}}/../{{stop}}"),
        gw("dot/gw-inspect-before", VIEWER, "GET", f"{C}/./{{run}}/json"),
        gw("dot/gw-inspect-after", VIEWER, "GET", f"{C}/{{run}}/./json"),
        gw("hash/gw-remove-encoded", OPERATOR, "DELETE", f"{C}/{{stop}}%23"),
        gw("hash/gw-remove-raw", OPERATOR, "DELETE", f"{C}/{{stop}}#x"),
        gw("hash/gw-walk-raw", VIEWER, "GET", f"{C}/{{a_ctr}}#/../../{{run}}/json"),
        gw("qmark/gw-remove-raw", OPERATOR, "DELETE", f"{C}/{{stop}}?/../{{a_ctr}}"),
        gw("slash-in-name/gw-remove", OPERATOR, "DELETE", f"{C}/{{a_ctr}}/{{stop}}"),
        gw("trailing-slash/gw-remove", OPERATOR, "DELETE", f"{C}/{{stop}}/"),
        gw("trailing-slash/gw-inspect", VIEWER, "GET", f"{C}/{{run}}/json/"),
        gw("double-slash/gw-after-version", OPERATOR, "DELETE", "/v1.41//containers/{stop}"),
        gw("double-slash/gw-before-name", OPERATOR, "DELETE", f"{C}//{{stop}}"),
        gw("double-slash/gw-before-version", VIEWER, "GET", "//v1.41/containers/{run}/json"),
        gw("version/gw-v1.24-inspect", VIEWER, "GET", "/v1.24/containers/{run}/json"),
        gw("version/gw-v1.24-remove", OPERATOR, "DELETE", "/v1.24/containers/{stop}"),
        gw("version/gw-none-remove", OPERATOR, "DELETE", "/containers/{stop}"),
        gw("version/gw-none-inspect", VIEWER, "GET", "/containers/{run}/json"),
        gw("version/gw-uppercase-v", VIEWER, "GET", "/V1.41/containers/{run}/json"),
        gw("version/gw-doubled", VIEWER, "GET", "/v1.41/v1.41/containers/{run}/json"),
        gw("unicode/gw-remove-cyrillic", OPERATOR, "DELETE", f"{C}/{{stop_cyr}}"),
        gw("unicode/gw-fullwidth-solidus", VIEWER, "GET", f"{C}/{{a_ctr}}\uff0f..\uff0f{{run}}/json"),
        gw("route-word/gw-inspect-json", VIEWER, "GET", f"{C}/json/json"),
        gw("route-word/gw-remove-json", OPERATOR, "DELETE", f"{C}/json?force=1"),
        gw("route-word/gw-remove-create", OPERATOR, "DELETE", f"{C}/create?force=1"),
        gw("route-word/gw-remove-prune", OPERATOR, "DELETE", f"{C}/prune?force=1"),
        gw("route-word/gw-kill-create", OPERATOR, "POST", f"{C}/create/kill"),
        gw("route-word/gw-kill-prune", OPERATOR, "POST", f"{C}/prune/kill"),
        gw("route-word/gw-kill-json", OPERATOR, "POST", f"{C}/json/kill"),
        gw("route-word/gw-changes-changes", VIEWER, "GET", f"{C}/changes/changes"),
        gw("route-word/gw-top-top", VIEWER, "GET", f"{C}/top/top"),
        gw("route-word/gw-stop-top", OPERATOR, "POST", f"{C}/top/stop?t=0"),
        gw("route-word/gw-logs-json", VIEWER, "GET", f"{C}/json/logs?stdout=1"),
        gw("query-repeat/gw-rename", OPERATOR, "POST", f"{C}/{{run}}/rename?name=xa-stolen&name=xa-other"),
    ]  # fmt: skip
    for name, body in {**BODY_REFERENCES, **PLANTED}.items():
        attempts.append(gw(f"body-reference/gw-{name}", OPERATOR, "POST", f"{C}/create", body))
    attempts += [
        gw("version/gw-v1.24-create-binds", OPERATOR, "POST", "/v1.24/containers/create", BIND_B),
        gw("version/gw-none-create-binds", OPERATOR, "POST", "/containers/create", BIND_B),
        gw("body-reference/gw-create-named", OPERATOR, "POST", f"{C}/create?name=xa-named", BIND_B),
        gw("body-reference/gw-start-with-hostconfig", OPERATOR, "POST", f"{C}/{{a_ctr}}/start",
           {"Binds": ["{vol}:/d"]}),
        gw("body-reference/gw-update-own-links", OPERATOR, "POST", f"{C}/{{a_ctr}}/update",
           {"Links": ["{run}:b"]}),
    ]  # fmt: skip
    attempts += [
        gw(f"json-case/gw-{name}", OPERATOR, "POST", f"{C}/create", body)
        for name, body in PARSER_BODIES.items()
        if not name.startswith("duplicate")
    ]
    attempts += [
        gw(f"json-duplicate/gw-{name}", OPERATOR, "POST", f"{C}/create", body)
        for name, body in PARSER_BODIES.items()
        if name.startswith("duplicate")
    ]
    attempts += [
        gw(f"content-type/gw-create-{name}", OPERATOR, "POST", f"{C}/create", BIND_B_TEXT, ct)
        for name, ct in CONTENT_TYPES.items()
    ]
    attempts += [
        gw("content-type/gw-connect-none", OPERATOR, "POST", "/v1.41/networks/{a_net}/connect",
           '{"Container": "{run}"}', None),
        gw("content-type/gw-volume-create-none", OPERATOR, "POST", "/v1.41/volumes/create",
           '{"Name": "xa-planted-vol", "Labels": {"dockerweb.owner.team": "xteam-b"}}', None),
        gw("form-body/gw-create", OPERATOR, "POST", f"{C}/create",
           "Image={base}&HostConfig.Binds={vol}:/d", FORM),
        gw("form-body/gw-connect", OPERATOR, "POST", "/v1.41/networks/{a_net}/connect", "Container={run}", FORM),
    ]  # fmt: skip
    return attempts


def _gateway_other() -> list[Attempt]:
    n, v, i = "/v1.41/networks", "/v1.41/volumes", "/v1.41/images"
    return [
        gw("network-connect/gw-own-to-b-network", OPERATOR, "POST", f"{n}/{{net}}/connect",
           {"Container": "{a_ctr}"}),
        gw("network-connect/gw-b-to-own-network", OPERATOR, "POST", f"{n}/{{a_net}}/connect",
           {"Container": "{run}"}),
        gw("network-connect/gw-b-stopped-to-own", OPERATOR, "POST", f"{n}/{{a_net}}/connect",
           {"Container": "{stop}"}),
        gw("network-connect/gw-b-id-prefix", OPERATOR, "POST", f"{n}/{{a_net}}/connect",
           {"Container": "{run_id:10}"}),
        gw("network-connect/gw-b-network-id-prefix", OPERATOR, "POST", f"{n}/{{net_id:12}}/connect",
           {"Container": "{a_ctr}"}),
        gw("network-connect/gw-own-with-b-alias", OPERATOR, "POST", f"{n}/{{net}}/connect",
           {"Container": "{a_ctr}", "EndpointConfig": {"Aliases": ["{run}"]}}),
        gw("network-connect/gw-disconnect-b", OPERATOR, "POST", f"{n}/{{net}}/disconnect",
           {"Container": "{run}", "Force": True}),
        gw("network-connect/gw-disconnect-b-from-bridge", OPERATOR, "POST", f"{n}/bridge/disconnect",
           {"Container": "{run}", "Force": True}),
        gw("json-case/gw-connect-lowercase", OPERATOR, "POST", f"{n}/{{a_net}}/connect", '{"container": "{run}"}'),
        gw("json-duplicate/gw-connect", OPERATOR, "POST", f"{n}/{{a_net}}/connect",
           '{"Container": "{a_ctr}", "container": "{run}"}'),
        gw("json-duplicate/gw-connect-same-case", OPERATOR, "POST", f"{n}/{{a_net}}/connect",
           '{"Container": "{a_ctr}", "Container": "{run}"}'),
        gw("plain/gw-network-inspect", VIEWER, "GET", f"{n}/{{net}}"),
        gw("plain/gw-network-remove", OPERATOR, "DELETE", f"{n}/{{net}}"),
        gw("id-prefix/gw-network-remove", OPERATOR, "DELETE", f"{n}/{{net_id:12}}"),
        gw("trailing-slash/gw-network-remove", OPERATOR, "DELETE", f"{n}/{{net}}/"),
        gw("pct3f/gw-network-remove", OPERATOR, "DELETE", f"{n}/{{net}}%3F"),
        gw("label-plant/gw-network", OPERATOR, "POST", f"{n}/create", {"Name": "xa-planted-net", "Labels": B_OWNER}),
        gw("label-plant/gw-network-long-s", OPERATOR, "POST", f"{n}/create",
           '{"Name": "xa-planted-net", "Label\\u017f": {"dockerweb.owner.team": "xteam-b"}}'),
        gw("plain/gw-volume-inspect", VIEWER, "GET", f"{v}/{{vol}}"),
        gw("plain/gw-volume-remove", OPERATOR, "DELETE", f"{v}/{{vol}}?force=1"),
        gw("trailing-slash/gw-volume-remove", OPERATOR, "DELETE", f"{v}/{{vol}}/"),
        gw("dot/gw-volume-remove", OPERATOR, "DELETE", f"{v}/./{{vol}}"),
        gw("pct3f/gw-volume-remove", OPERATOR, "DELETE", f"{v}/{{vol}}%3Fforce=1"),
        gw("pct2f/gw-volume-remove", OPERATOR, "DELETE", f"{v}/{{a_vol}}%2F..%2F{{vol}}"),
        gw("volume/gw-create-existing-b-name", OPERATOR, "POST", f"{v}/create", {"Name": "{vol}"}),
        gw("label-plant/gw-volume", OPERATOR, "POST", f"{v}/create", {"Name": "xa-planted-vol", "Labels": B_OWNER}),
        gw("label-plant/gw-volume-case-folded", OPERATOR, "POST", f"{v}/create",
           {"Name": "xa-planted-vol", "Labels": {"Dockerweb.Owner.Team": "xteam-b"}}),
        gw("label-plant/gw-volume-lowercase-key", OPERATOR, "POST", f"{v}/create",
           '{"Name": "xa-planted-vol", "labels": {"dockerweb.owner.team": "xteam-b"}}'),
        gw("exec/start", OPERATOR, "POST", "/v1.41/exec/{exec}/start", {"Detach": True, "Tty": False}),
        gw("exec/start-lowercase-keys", OPERATOR, "POST", "/v1.41/exec/{exec}/start", '{"detach": true}'),
        gw("exec/start-no-content-type", OPERATOR, "POST", "/v1.41/exec/{exec}/start", '{"Detach": true}', None),
        gw("exec/start-v1.24", OPERATOR, "POST", "/v1.24/exec/{exec}/start", {"Detach": True}),
        gw("exec/start-no-version", OPERATOR, "POST", "/exec/{exec}/start", {"Detach": True}),
        gw("exec/resize", OPERATOR, "POST", "/v1.41/exec/{exec}/resize?h=10&w=10"),
        gw("exec/inspect-viewer", VIEWER, "GET", "/v1.41/exec/{exec}/json"),
        gw("exec/inspect-operator", OPERATOR, "GET", "/v1.41/exec/{exec}/json"),
        gw("exec/inspect-dotdot", VIEWER, "GET", "/v1.41/exec/{exec}/../../containers/{run}/json"),
        gw("image-overwrite/gw-tag", OPERATOR, "POST", f"{i}/{{a_img}}/tag?repo={{img_repo}}&tag=1"),
        gw("image-overwrite/gw-tag-registry-copy", OPERATOR, "POST",
           f"{i}/{{a_img}}/tag?repo={{registry}}/{{img_repo}}&tag=1"),
        gw("query-repeat/gw-tag-first-wins", OPERATOR, "POST",
           f"{i}/{{a_img}}/tag?repo={{img_repo}}&repo=xa-ok/x&tag=1"),
        gw("query-case/gw-tag-upper-key", OPERATOR, "POST", f"{i}/{{a_img}}/tag?REPO=xa-ok/x&repo={{img_repo}}&tag=1"),
        gw("image-overwrite/gw-commit-over-tag", OPERATOR, "POST",
           "/v1.41/commit?container={a_ctr}&repo={img_repo}&tag=1", {}),
        gw("image-read/gw-commit-b-container", OPERATOR, "POST",
           "/v1.41/commit?container={run}&repo=xa-stolen/fs&tag=1", {}),
        gw("query-repeat/gw-commit-container", OPERATOR, "POST",
           "/v1.41/commit?container={run}&container={a_ctr}&repo=xa-stolen/fs&tag=1", {}),
        gw("query-case/gw-commit-container", OPERATOR, "POST",
           "/v1.41/commit?container={run}&Container={a_ctr}&repo=xa-stolen/fs&tag=1", {}),
        gw("image-overwrite/gw-build-tag", OPERATOR, "POST", "/v1.41/build?t={img}&rm=1", Raw("context"), TAR),
        gw("query-repeat/gw-build-second-tag", OPERATOR, "POST", "/v1.41/build?t=xa-ok/x:1&t={img}&rm=1",
           Raw("context"), TAR),
        gw("image-overwrite/gw-load", OPERATOR, "POST", f"{i}/load?quiet=1", Raw("load"), TAR),
        gw("image-overwrite/gw-import", OPERATOR, "POST", f"{i}/create?fromSrc=-&repo={{img_repo}}&tag=1",
           Raw("import"), TAR),
        gw("query-case/gw-import-fromimage", OPERATOR, "POST",
           f"{i}/create?fromimage=xa-ok/x&fromSrc=-&repo={{img_repo}}&tag=1", Raw("import"), TAR),
        gw("image-overwrite/gw-remove-tag", OPERATOR, "DELETE", f"{i}/{{img}}?force=1"),
        gw("image-overwrite/gw-remove-short-id", OPERATOR, "DELETE", f"{i}/{{img_hex:12}}?force=1"),
        gw("image-push/gw-push-b-image", OPERATOR, "POST", f"{i}/{{registry}}/{{img_repo}}/push?tag=1",
           headers=(("X-Registry-Auth", "e30="),)),
        gw("image-export/gw-get", VIEWER, "GET", f"{i}/{{img}}/get"),
        gw("image-export/gw-get-names", VIEWER, "GET", f"{i}/get?names={{img}}"),
        gw("image-export/gw-get-names-repeated", VIEWER, "GET", f"{i}/get?names={{a_img}}&names={{img}}"),
        gw("image-export/gw-get-short-id", VIEWER, "GET", f"{i}/get?names={{img_hex:12}}"),
        gw("image-export/gw-get-id", VIEWER, "GET", f"{i}/{{img_id}}/get"),
    ]  # fmt: skip


ATTEMPTS: list[Attempt] = [
    *_containers_rest(),
    *_bulk(),
    *_images_walk(),
    *_images_rest(),
    *_networks_volumes_rest(),
    *_jobs(),
    *_websockets(),
    *_gateway_containers(),
    *_gateway_other(),
]
