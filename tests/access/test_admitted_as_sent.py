"""Property: the object admission decided on is the object the engine received (issue 11).

Hypothesis generates references and paths (percent-escapes of any byte, separators, dot and empty
segments, unicode look-alikes and control characters, route words, id prefixes, registry:port image
references, digests). A recording proxy (tests/testbed/recorder.py) sits in front of engine1's unix socket
and keeps every request line the engine received; each one is read back the way dockerd reads it
(`recorder.dockerd_view`, written from Go's net/url and gorilla/mux, not from our code) and must name
exactly the object the caller named, on the route the endpoint means, or the call must be refused at the
edge without the engine hearing of that object.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import docker
import h11
import pytest
from django.contrib.auth.models import User
from django.db import connection
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from rest_framework.test import APIClient

from hosts.engine.request import BadReference, EngineRequest, Kind, check_reference
from hosts.models import ApiToken, AuditEntry, Grant, Host, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from tests.conftest import wait_until, worker_database_url
from tests.gateway.conftest import Listener, start_gateway, stop_gateway
from tests.gateway.conftest import test_database as test_database  # the committed rows the gateway reads
from tests.gateway.wire import Wire
from tests.testbed import Testbed
from tests.testbed.images import API_VERSION, LOCAL_TAG
from tests.testbed.recorder import DockerdView, Recorded, Recorder, dockerd_view, go_path_unescape

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # examples found are reported, not replayed from a cache another engineer shares
)
VICTIM = "aas-victim"  # another team's running container, volume, network and image tag
VICTIM_IMAGE = "dwrec/victim:latest"
LOOKUPS = {  # the read each kind's ownership check may make of the named object
    "container": ("GET", "/containers/{name}/json"),
    "image": ("GET", "/images/{name}/json"),
    "volume": ("GET", "/volumes/{name}"),
    "network": ("GET", "/networks/{name}"),
    "exec": ("GET", "/exec/{name}/json"),
}


# --- the engine side ---------------------------------------------------------------------------------


@dataclass
class World:
    """Team blue's objects on engine1, made once per module, and the recorder in front of engine1."""

    engine: docker.DockerClient
    recorder: Recorder
    socket_path: str
    ids: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # engine1's tags before this module: tag -> image id

    def ensure(self) -> None:
        """(Re)make the victims and engine1's tags: a legitimate call of the host admin that named one
        exactly (`DELETE /images/dwtest/busybox:latest`) may have removed, untagged or stopped it."""
        labels = {OWNER_TEAM_LABEL: "blue", OWNER_USER_LABEL: "bob"}
        api = self.engine.api
        if not self.tags:
            self.tags = {tag: image.id for image in self.engine.images.list() for tag in image.tags}
            self.tags[VICTIM_IMAGE] = self.tags[LOCAL_TAG]
        present = {tag for image in self.engine.images.list() for tag in image.tags}
        for tag, image_id in self.tags.items():
            if tag not in present:
                repository, _, name = tag.rpartition(":")
                api.tag(image_id, repository, name)
        self.ids["image"] = self.tags[LOCAL_TAG]
        try:
            volume = self.engine.volumes.get(VICTIM)
        except docker.errors.NotFound:
            volume = self.engine.volumes.create(VICTIM, labels=labels)
        try:
            network = self.engine.networks.get(VICTIM)
        except docker.errors.NotFound:
            network = self.engine.networks.create(VICTIM, labels=labels)
        self.ids["volume"], self.ids["network"] = volume.name, network.id
        try:
            container = self.engine.containers.get(VICTIM)
        except docker.errors.NotFound:
            # In use (volume mounted, network attached, running) so that a DELETE without force can't
            # remove any of them; exits at once on SIGTERM so a stop costs no timeout.
            container = self.engine.containers.create(
                VICTIM_IMAGE,
                ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"],
                name=VICTIM,
                labels=labels,
                volumes={VICTIM: {"bind": "/data", "mode": "rw"}},
                network=VICTIM,
            )
        if container.status != "running":
            api.start(container.id)
        self.ids["container"] = container.id

    def resolved(self, kind: str, name: bytes) -> set[bytes]:
        """What the engine resolves `name` of `kind` to (its id), asked directly with `name` as one segment:
        a service that resolves a reference first and then acts on the id acts on the same object."""
        path = {
            "container": "/containers/{}/json",
            "image": "/images/{}/json",
            "volume": "/volumes/{}",
            "network": "/networks/{}",
            "exec": "/exec/{}/json",
        }[kind]
        with Wire(unix=self.socket_path) as wire:
            status, _, body = wire.request("GET", f"/v{API_VERSION}" + path.format(quote(name, safe="")))
        if status != 200:
            return set()
        data = json.loads(body)
        return {str(data.get(key)).encode() for key in ("Id", "ID", "Name") if data.get(key)}


@pytest.fixture(scope="module")
def world(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The recorder in front of engine1, and team blue's victims on engine1."""
    directory = tmp_path_factory.mktemp("recorder")
    engine = docker.DockerClient(base_url=testbed.engine1.unix_url, version=API_VERSION, timeout=60)
    made = World(engine, Recorder(testbed.engine1.socket_path, directory), testbed.engine1.socket_path)
    made.recorder.start()
    try:
        made.ensure()
        yield made
    finally:
        made.recorder.stop()
        with contextlib.suppress(docker.errors.APIError):
            made.ensure()  # the testbed's own tags, for the modules after this one
        with contextlib.suppress(docker.errors.APIError):
            engine.containers.get(VICTIM).remove(force=True)
        for remove in (
            lambda: engine.volumes.get(VICTIM).remove(force=True),
            lambda: engine.networks.get(VICTIM).remove(),
            lambda: engine.images.remove(VICTIM_IMAGE),
        ):
            with contextlib.suppress(docker.errors.APIError):
                remove()
        engine.close()
        shutil.rmtree(directory, ignore_errors=True)


# --- references and paths ------------------------------------------------------------------------------

ROUTE_WORDS = [
    "json", "create", "prune", "start", "stop", "exec", "archive", "export", "logs", "top", "changes",
    "attach", "wait", "kill", "tag", "push", "history", "get", "load", "search", "containers", "images",
    "networks", "volumes", "connect", "distribution", "v1.41", "_ping", "info", "session", "grpc",
]  # fmt: skip
ACTIONS = ["export", "history", "tag", "json", "start", "get", "push", "archive", "create", "prune"]
SEPARATORS = ["/", "?", "#", "%", ".", "..", "", "&", "=", ";", ":", "@", "+", "~", "//", "./", "../"]
LOOK_ALIKES = [
    "\uff4a\uff53\uff4f\uff4e",  # fullwidth "json"
    "\u0458son",  # Cyrillic je
    "\uff0f",  # fullwidth solidus
    "\u2215",  # division slash
    "\u2024",  # one dot leader
    "\uff0e\uff0e",  # fullwidth full stops
    "\u00a0",
    "\u200b",
    "\u00e9",
    "\x00",
    "\r\n",
    "\t",
    "\x7f",
    "\\",
    " ",
]
DIGEST_OF_THE_WRONG_LENGTH = "dwtest/busybox@sha256:" + "ab" * 16  # sha256 has 64 hex digits
IMAGE_REFS = [
    DIGEST_OF_THE_WRONG_LENGTH,
    "busybox@sha256:" + "AB" * 32,
    "localhost:5000/dwtest/busybox:latest",
    "registry.example:5000/team/app:1.0",
    "dwtest/busybox@sha256:" + "ab" * 32,
    LOCAL_TAG,
    VICTIM_IMAGE,
    "sha256:",
    "busybox",
]


def percent_escape() -> st.SearchStrategy[str]:
    """`%XX` of any byte (either case), or a broken escape."""
    byte = st.integers(0, 255)
    good = st.builds(lambda b, upper: f"%{b:02X}" if upper else f"%{b:02x}", byte, st.booleans())
    return st.one_of(good, st.sampled_from(["%", "%2", "%G0", "%%", "%252e", "%2e%2e", "%2F", "%3F", "%23"]))


def atoms(world_ids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Pieces of references and paths, printable ASCII (anything else arrives here %-escaped)."""
    return st.one_of(
        st.sampled_from(ROUTE_WORDS),
        st.sampled_from(SEPARATORS),
        st.sampled_from(IMAGE_REFS),
        st.just(VICTIM),
        world_ids,
        percent_escape(),
        st.text(alphabet="abcxyz019_.-", min_size=1, max_size=6),
    )


def id_prefixes(world: World) -> st.SearchStrategy[str]:
    """Prefixes of the victims' ids (`docker rm 3f`), with and without `sha256:`."""
    image = world.ids["image"]
    ids = [world.ids["container"], image, image.removeprefix("sha256:"), world.ids["network"]]
    return st.builds(
        lambda full, size: full[:size], st.sampled_from(ids), st.sampled_from([1, 3, 12, 64, 71])
    )


def plain_references(world: World) -> st.SearchStrategy[str]:
    """What a well-behaved caller names: the victims, id prefixes, image references, route words."""
    return st.one_of(
        st.just(VICTIM),
        id_prefixes(world),
        st.sampled_from(IMAGE_REFS + ROUTE_WORDS),
        st.text(alphabet="abcxyz019_.-", min_size=1, max_size=8),
    )


def twisted(world: World, pieces: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A plain name with a piece before or after it, or a route word behind a separator."""
    return st.one_of(
        st.builds(
            lambda name, piece, after: name + piece if after else piece + name,
            plain_references(world),
            pieces,
            st.booleans(),
        ),
        st.builds(
            lambda name, separator, word: name + separator + word,
            plain_references(world),
            st.sampled_from(["/", "?", "#", "/../", "%2F"]),
            st.sampled_from(ACTIONS),
        ),
    )


def references(world: World) -> st.SearchStrategy[str]:
    """References as a caller may type them: atoms joined, unicode included (the REST API encodes them)."""
    unicode_atom = st.one_of(st.sampled_from(LOOK_ALIKES), st.text(min_size=1, max_size=3))
    pieces = st.one_of(atoms(id_prefixes(world)), unicode_atom)
    joined = st.lists(pieces, min_size=1, max_size=5).map("".join)
    return st.one_of(joined, twisted(world, pieces), plain_references(world))


def raw_references(world: World) -> st.SearchStrategy[str]:
    """References as they stand in a raw request target: printable ASCII, any other byte %-escaped."""
    pieces = atoms(id_prefixes(world))
    joined = st.lists(pieces, min_size=1, max_size=5).map("".join)
    return st.one_of(joined, twisted(world, pieces), plain_references(world))


# --- reading what the engine received ----------------------------------------------------------------


def naming(records: list[Recorded]) -> list[tuple[Recorded, DockerdView]]:
    """The recorded requests that dockerd would route to an object (or could not read as a route)."""
    seen = []
    for record in records:
        view = dockerd_view(record.method, record.target)
        if view.status != 0 or view.kind:
            seen.append((record, view))
    return seen


def note(what: str) -> None:
    """Count `what` in hypothesis's statistics (--hypothesis-show-statistics); nothing in a plain test."""
    with contextlib.suppress(InvalidArgument):
        event(what)


def explain(records: list[Recorded]) -> str:
    return "\n".join(f"  {r.method} {r.target!r} -> {dockerd_view(r.method, r.target)}" for r in records)


def assert_engine_named_only(
    world: World,
    records: list[Recorded],
    reference: str,
    kind: str,
    allowed: set[tuple[str, str]],
    *,
    other_kinds_readable: bool = False,
) -> None:
    """Every recorded request is read by dockerd as a route; those on `kind`'s routes are `allowed`
    (method, template) pairs naming exactly `reference` (or the id the engine resolves it to); no other
    kind is named, except reads of objects the container names when `other_kinds_readable`."""
    wanted = reference.encode()
    targets = {wanted} | (world.resolved(kind, wanted) if records else set())
    for record in records:
        view = dockerd_view(record.method, record.target)
        context = f"reference {reference!r} reached the engine as:\n{explain(records)}"
        assert view.status == 0, f"dockerd does not route it as sent ({view.status}); {context}"
        if not view.kind:
            continue
        if view.kind == kind:
            assert (record.method, view.template) in allowed, f"wrong route; {context}"
            assert view.name in targets, f"another object; {context}"
        else:
            assert other_kinds_readable and record.method == "GET", f"another kind; {context}"


def assert_refusal_names_field(response: Any) -> None:
    body = response.json()
    assert body.get("code") == "bad_reference", body
    assert body.get("fields") and isinstance(body["fields"], dict), body
    assert set(body) <= {"detail", "code", "fields"} and body["detail"], body


# --- REST ----------------------------------------------------------------------------------------------


@dataclass
class RestCast:
    host: Host
    callers: dict[str, APIClient]


@pytest.fixture
def rest(world: World, db: None, client_for: Any) -> RestCast:
    """A host on the recorder; its admin (admission passes) and an operator of team red (not blue)."""
    world.ensure()
    world.recorder.take()
    admin = User.objects.create_user("rec-admin")
    operator = User.objects.create_user("rec-operator")
    host = Host.objects.create(name="engine1-recorded", url=world.recorder.unix_url, created_by=admin)
    red = Team.objects.create(name="rec-rest-red")  # the victims are team "blue"'s
    red.members.add(operator)
    Grant.objects.create(user=admin, host=host, role=Role.ADMIN)
    Grant.objects.create(team=red, host=host, role=Role.OPERATOR)
    return RestCast(host, {"admin": client_for(admin), "operator": client_for(operator)})


def rest_call(
    world: World, client: APIClient, method: str, path: str, body: Any = None
) -> tuple[Any, list[Recorded]]:
    world.recorder.take()
    response = client.generic(
        method, path, json.dumps(body) if body is not None else "", content_type="application/json"
    )
    return response, world.recorder.take()


def check_rest(world: World, response: Any, records: list[Recorded], reference: str, kind: str,
               allowed: set[tuple[str, str]], **kwargs: Any) -> None:  # fmt: skip
    """The REST property for one call (see the module docstring)."""
    note(f"REST {response.status_code}, engine requests naming an object: {len(naming(records))}")
    assert response.status_code != 500, response.content[:500]
    is_json = response.get("Content-Type", "").startswith("application/json")
    if response.status_code == 400 and is_json and response.json().get("code") == "bad_reference":
        assert_refusal_names_field(response)
        named = naming(records)
        assert not named, f"refused {reference!r}, yet the engine heard of it:\n{explain(records)}"
        return
    assert_engine_named_only(world, records, reference, kind, allowed, **kwargs)


CONTAINER_GET = ("GET", "/containers/{name}/json")


@PROPERTY
@given(data=st.data())
def test_rest_container_references_reach_the_engine_as_one_segment(
    world: World, rest: RestCast, data: st.DataObject
) -> None:
    """GET / DELETE / start of /hosts/{id}/containers/{R}/: R is refused, or the engine got exactly R."""
    reference = data.draw(references(world), "R")
    who = data.draw(st.sampled_from(["admin", "operator"]), "caller")
    method, suffix, verb = data.draw(
        st.sampled_from([("GET", "", None), ("DELETE", "", "DELETE"), ("POST", "start/", "POST")]), "call"
    )
    path = f"/api/v1/hosts/{rest.host.pk}/containers/{quote(reference, safe='')}/{suffix}"
    response, records = rest_call(world, rest.callers[who], method, path)
    allowed = {CONTAINER_GET}
    if verb == "DELETE":
        allowed.add(("DELETE", "/containers/{name}"))
    elif verb == "POST":
        allowed.add(("POST", "/containers/{name}/start"))
    # A start resolves again the volumes and networks the container names (issue 11, item 2): reads of
    # other kinds, of objects the engine named, not the caller.
    readable = verb == "POST"
    check_rest(world, response, records, reference, "container", allowed, other_kinds_readable=readable)


@PROPERTY
@given(data=st.data())
def test_rest_bulk_references_reach_the_engine_as_one_segment(
    world: World, rest: RestCast, data: st.DataObject
) -> None:
    """POST /containers/bulk/ remove/stop of {"host", "id": R}: refused, or the engine got exactly R."""
    reference = data.draw(references(world), "R")
    who = data.draw(st.sampled_from(["admin", "operator"]), "caller")
    action = data.draw(st.sampled_from(["remove", "stop"]), "action")
    body = {"action": action, "containers": [{"host": rest.host.pk, "id": reference}]}
    response, records = rest_call(world, rest.callers[who], "POST", "/api/v1/containers/bulk/", body)
    allowed = {CONTAINER_GET}
    allowed.add(
        ("DELETE", "/containers/{name}") if action == "remove" else ("POST", "/containers/{name}/stop")
    )
    check_rest(world, response, records, reference, "container", allowed)
    if response.status_code == 200:
        for result in response.json()["results"]:
            assert result["id"] == reference, result


# The REST image actions whose URL ends in a word an image name may end in too, and their engine route.
REST_IMAGE_ACTIONS = {
    "export": ("GET", "/images/{name}/get"),
    "history": ("GET", "/images/{name}/history"),
    "tag": ("POST", "/images/{name}/tag"),
}


@PROPERTY
@given(data=st.data())
def test_rest_image_references_reach_the_engine_as_the_name_part(
    world: World, rest: RestCast, data: st.DataObject
) -> None:
    """GET / DELETE /hosts/{id}/images/{R}/: refused, or each engine request's `{name:.*}` is exactly R
    (never a container's route, whatever the dots and slashes in R)."""
    reference = data.draw(references(world), "R")
    who = data.draw(st.sampled_from(["admin", "operator"]), "caller")
    method = data.draw(st.sampled_from(["GET", "DELETE"]), "method")
    # '/' stays: image names have slashes, and the images route takes them (`lookup_value_regex`).
    path = f"/api/v1/hosts/{rest.host.pk}/images/{quote(reference, safe='/')}/"
    response, records = rest_call(world, rest.callers[who], method, path)
    allowed = {("GET", "/images/{name}/json")}
    if method == "DELETE":
        allowed.add(("DELETE", "/images/{name}"))
    prefix, _, last = reference.rpartition("/")
    if method == "GET" and last in REST_IMAGE_ACTIONS and (":" in prefix.rpartition("/")[2] or "@" in prefix):
        # The REST API's documented reading (README): `images/x:1/export/` is the export of `x:1`, so the
        # object is the prefix, on that action's route; a bare `x/export` is refused as ambiguous.
        reference, allowed = prefix, {REST_IMAGE_ACTIONS[last]}
    check_rest(world, response, records, reference, "image", allowed)


@PROPERTY
@given(data=st.data())
def test_rest_volume_and_network_references_reach_the_engine_as_one_segment(
    world: World, rest: RestCast, data: st.DataObject
) -> None:
    """GET / DELETE /hosts/{id}/volumes|networks/{R}/: refused, or the engine got exactly R."""
    reference = data.draw(references(world), "R")
    who = data.draw(st.sampled_from(["admin", "operator"]), "caller")
    method = data.draw(st.sampled_from(["GET", "DELETE"]), "method")
    kind = data.draw(st.sampled_from(["volume", "network"]), "kind")
    path = f"/api/v1/hosts/{rest.host.pk}/{kind}s/{quote(reference, safe='')}/"
    response, records = rest_call(world, rest.callers[who], method, path)
    allowed = {LOOKUPS[kind]}
    if method == "DELETE":
        allowed.add(("DELETE", f"/{kind}s/{{name}}"))
    check_rest(world, response, records, reference, kind, allowed)


@pytest.mark.parametrize("reference", ["busybox/export", "busybox/history", "dwtest/busybox/history"])
def test_rest_image_names_ending_in_an_action_word_never_reach_another_image(
    world: World, rest: RestCast, reference: str
) -> None:
    """`busybox/export` is an image reference like any other (a repository under a namespace); reading it
    must not read or export the image `busybox` (examples the image property found): the path is refused
    as ambiguous, or the engine hears of exactly that name."""
    path = f"/api/v1/hosts/{rest.host.pk}/images/{quote(reference, safe='/')}/"
    response, records = rest_call(world, rest.callers["admin"], "GET", path)
    check_rest(world, response, records, reference, "image", {("GET", "/images/{name}/json")})


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_rest_image_digest_of_the_wrong_length_is_refused_not_an_internal_error(
    world: World, rest: RestCast, who: str
) -> None:
    """A sha256 digest has 64 hex digits: a shorter one is refused (400, ours or the engine's), never a
    500."""
    path = f"/api/v1/hosts/{rest.host.pk}/images/{DIGEST_OF_THE_WRONG_LENGTH}/"
    response, records = rest_call(world, rest.callers[who], "DELETE", path)
    allowed = {("GET", "/images/{name}/json"), ("DELETE", "/images/{name}")}
    check_rest(world, response, records, DIGEST_OF_THE_WRONG_LENGTH, "image", allowed)


# --- the gateway ---------------------------------------------------------------------------------------

GATEWAY_HOST = "rec-gw"
GATEWAY_USERS = ("rec-gw-admin", "rec-gw-operator")
GATEWAY_CALLS = [  # method, path template with {R}
    ("GET", "containers/{R}/json"),
    ("POST", "containers/{R}/start"),
    ("DELETE", "containers/{R}"),
    ("GET", "images/{R}/json"),
    ("DELETE", "images/{R}"),
    ("GET", "volumes/{R}"),
    ("DELETE", "volumes/{R}"),
    ("GET", "networks/{R}"),
    ("GET", "exec/{R}/json"),
]
VERSIONS = ["v1.41/", "", "v1.40/", "v1.41/./", "./v1.41/", "v1.41//", "%2Fv1.41/", "v1.41/%2E/", "v1.41/../"]


@dataclass
class GatewayCast:
    listener: Listener
    tokens: dict[str, str]


def _remove_gateway_world() -> None:
    Host.objects.filter(name=GATEWAY_HOST).delete()
    User.objects.filter(username__in=GATEWAY_USERS).delete()
    Team.objects.filter(name="rec-red").delete()
    # The audit log is append-only for the application; this module's rows go with plain SQL.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE host_name = %s", [GATEWAY_HOST])  # noqa: S608


@pytest.fixture(scope="module")
def gateway_on_recorder(
    world: World, test_database: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayCast]:
    """`manage.py gateway` over committed rows: a host on the recorder, its admin, and an operator of a
    team that does not own the victims."""
    world.ensure()
    workdir = tmp_path_factory.mktemp("gateway-recorded")
    with django_db_blocker.unblock():
        _remove_gateway_world()
        host = Host.objects.create(name=GATEWAY_HOST, url=world.recorder.unix_url)
        admin, operator = (User.objects.create_user(name) for name in GATEWAY_USERS)
        red = Team.objects.create(name="rec-red")  # the victims are team "blue"'s
        red.members.add(operator)
        Grant.objects.create(user=admin, host=host, role=Role.ADMIN)
        Grant.objects.create(team=red, host=host, role=Role.OPERATOR)
        tokens = {
            "admin": ApiToken.issue(admin, "admitted-as-sent")[1],
            "operator": ApiToken.issue(operator, "admitted-as-sent")[1],
        }
        env = {"DATABASE_URL": worker_database_url(), "DJANGO_SETTINGS_MODULE": "dockerweb.settings"}
    listener = start_gateway(workdir, "recorded", env)
    try:
        yield GatewayCast(listener, tokens)
    finally:
        stop_gateway(listener)
        with django_db_blocker.unblock():
            _remove_gateway_world()
        shutil.rmtree(workdir, ignore_errors=True)


def _last_audit_pk() -> int:
    last = AuditEntry.objects.filter(host_name=GATEWAY_HOST).order_by("-pk").first()
    return last.pk if last is not None else 0


def _audit_names(row: AuditEntry) -> set[tuple[str, bytes]]:
    """The (kind, object) an audit row's path names, read as dockerd would read it, whether the row keeps
    the path as sent (percent-encoded) or decoded."""
    as_sent = dockerd_view(row.method, row.path.split("?", 1)[0].encode())
    as_decoded = dockerd_view(row.method, quote(row.path, safe="/").encode())
    return {(view.kind, view.name) for view in (as_sent, as_decoded) if view.status == 0}


@settings(PROPERTY, max_examples=200)
@given(data=st.data())
def test_gateway_engine_receives_the_object_admission_decided_on(
    world: World, gateway_on_recorder: GatewayCast, django_db_blocker: Any, data: st.DataObject
) -> None:
    """A raw `/hosts/<name>/<path>` is refused (400/404 JSON) without the engine hearing of its object, or
    the engine routes it to the same route and object that dockerd would read in the client's own path
    (and that the audit row names)."""
    reference = data.draw(raw_references(world), "R")
    assume(all("\x21" <= ch <= "\x7e" for ch in reference))  # id prefixes and words are; h11 sends no other
    version = data.draw(st.one_of(st.just("v1.41/"), st.sampled_from(VERSIONS)), "version")
    method, template = data.draw(st.sampled_from(GATEWAY_CALLS), "call")
    who = data.draw(st.sampled_from(["admin", "operator"]), "caller")
    check_gateway_call(
        world,
        gateway_on_recorder,
        django_db_blocker,
        who,
        method,
        version + template.replace("{R}", reference),
    )


LONG_NAME = VICTIM + "0" * 130  # longer than the audit's object_id column (128)


@pytest.mark.parametrize(
    ("who", "method", "tail"),
    [
        # A sha256 digest has 64 hex digits: a shorter one is refused (ours or the engine's 400), not a 500.
        ("admin", "DELETE", f"v1.41/images/{DIGEST_OF_THE_WRONG_LENGTH}"),
        ("operator", "DELETE", f"v1.41/images/{DIGEST_OF_THE_WRONG_LENGTH}"),
        # The audit row names the object whole, not a prefix that may be another object's name.
        ("admin", "POST", f"v1.41/containers/{LONG_NAME}/start"),
    ],
    ids=["short-digest-admin", "short-digest-operator", "long-name-audited-whole"],
)
def test_gateway_examples_the_property_found_reach_the_engine_as_admitted(
    world: World, gateway_on_recorder: GatewayCast, django_db_blocker: Any, who: str, method: str, tail: str
) -> None:
    """Minimal examples of the gateway property, kept so they are tried on every run."""
    check_gateway_call(world, gateway_on_recorder, django_db_blocker, who, method, tail)


def check_gateway_call(
    world: World, gateway: GatewayCast, django_db_blocker: Any, who: str, method: str, tail: str
) -> None:
    """The gateway property for one call of `who`: `method /hosts/<host>/<tail>`."""
    meant = dockerd_view(method, ("/" + tail).encode())  # the client's own path, as the engine reads it
    with django_db_blocker.unblock():
        marker = _last_audit_pk()
    world.recorder.take()
    headers = {"Authorization": f"Bearer {gateway.tokens[who]}"}
    try:
        with Wire(gateway.listener.port) as wire:
            status, _, body = wire.request(method, f"/hosts/{GATEWAY_HOST}/{tail}", headers)
    except (h11.ProtocolError, OSError) as exc:  # no answer at all: a crash, shown with the gateway's log
        records = world.recorder.take()
        pytest.fail(
            f"{method} /{tail!r}: {exc!r}; engine got:\n{explain(records)}\n{gateway.listener.log_tail()}"
        )
    records = world.recorder.take()
    note(f"gateway {status}, engine requests naming an object: {len(naming(records))}")
    context = f"client sent {method} /{tail!r}, meaning {meant}; engine got:\n{explain(records)}"
    assert status != 500, f"{body[:300]!r}; {context}\n{gateway.listener.log_tail()[-2500:]}"
    if status >= 400:
        assert "message" in json.loads(body), f"{body[:300]!r}; {context}"
    if meant.status != 0 or not meant.kind:
        for _, view in naming(records):
            assert view == meant, f"a path without an object of its own reached one; {context}"
        return
    named = naming(records)
    targets = {meant.name} | world.resolved(meant.kind, meant.name)
    relayed = False
    for record, view in named:
        assert view.status == 0 and view.kind == meant.kind, context
        assert view.name in targets, f"another object; {context}"
        if (record.method, view.template) == (method, meant.template):
            relayed = True
        else:
            assert (record.method, view.template) == LOOKUPS[meant.kind], f"another route; {context}"
    if method == "GET":
        return  # reads are not audited
    with django_db_blocker.unblock():
        # A refusal's row is written before the reply; a relayed call's once its response has ended.
        if relayed:
            assert wait_until(lambda: bool(_audit_rows(marker)), timeout=10), f"no audit row; {context}"
        for row in _audit_rows(marker):
            if row.object_id or relayed:
                assert row.object_id.encode() in targets, f"audit names {row.object_id!r}; {context}"
            audited = _audit_names(row)
            if audited or relayed:
                assert audited & {(meant.kind, t) for t in targets}, f"audit path {row.path!r}; {context}"


def _audit_rows(after: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(host_name=GATEWAY_HOST, pk__gt=after).order_by("pk"))


# --- the reference grammar, purely ------------------------------------------------------------------

ENGINE_ROUTES = [  # (method, our template, dockerd's template)
    ("GET", "/containers/{container}/json", "/containers/{name}/json"),
    ("POST", "/containers/{container}/start", "/containers/{name}/start"),
    ("DELETE", "/containers/{container}", "/containers/{name}"),
    ("GET", "/images/{image}/json", "/images/{name}/json"),
    ("DELETE", "/images/{image}", "/images/{name}"),
    ("POST", "/images/{image}/tag", "/images/{name}/tag"),
    ("GET", "/volumes/{volume}", "/volumes/{name}"),
    ("DELETE", "/networks/{network}", "/networks/{name}"),
    ("POST", "/exec/{exec}/start", "/exec/{name}/start"),
]
_NAME = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}\Z")
_COMPONENT = st.from_regex(r"\A[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+){0,2}\Z")
VALID_IMAGES = st.one_of(
    st.builds(
        lambda domain, parts, tag, digest: (domain + "/" if domain else "") + "/".join(parts) + tag + digest,
        st.sampled_from(["", "localhost:5000", "registry.example:443", "[::1]:5000", "a-b.c"]),
        st.lists(_COMPONENT, min_size=1, max_size=3),
        st.one_of(st.just(""), st.from_regex(r"\A:[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}\Z")),
        st.one_of(st.just(""), st.just("@sha256:" + "0123456789abcdef" * 4)),
    ),
    st.from_regex(r"\Asha256:[0-9a-f]{1,64}\Z"),
)
VALID = {
    "container": _NAME,
    "volume": _NAME,
    "network": _NAME,
    "image": VALID_IMAGES,
    "exec": st.from_regex(r"\A[0-9a-f]{1,64}\Z"),
}


def _round_trip(method: str, ours: str, theirs: str, reference: str) -> None:
    request = EngineRequest.build(method, ours, reference)
    view = dockerd_view(method, request.target(f"v{API_VERSION}").encode())
    assert view.status == 0, (request.path, view)
    assert (view.template, view.name) == (theirs, reference.encode()), (request.path, view)


@settings(max_examples=300, deadline=None, database=None)
@given(route=st.sampled_from(ENGINE_ROUTES), data=st.data())
def test_valid_references_round_trip_through_dockerd_decoding(
    route: tuple[str, str, str], data: st.DataObject
) -> None:
    """A path built from a valid reference, decoded as Go and routed as gorilla/mux does, gives back the
    same route and the same reference."""
    method, ours, theirs = route
    kind = theirs.split("/")[1].rstrip("s")
    reference = data.draw(VALID[kind], "reference")
    assume(".." not in reference.split("/"))
    _round_trip(method, ours, reference=reference, theirs=theirs)


@settings(max_examples=400, deadline=None, database=None)
@given(route=st.sampled_from(ENGINE_ROUTES), reference=st.one_of(st.text(max_size=12), st.lists(
    st.one_of(st.sampled_from(ROUTE_WORDS + SEPARATORS + LOOK_ALIKES + IMAGE_REFS), percent_escape()),
    min_size=1, max_size=5).map("".join)))  # fmt: skip
def test_any_reference_is_refused_or_round_trips(route: tuple[str, str, str], reference: str) -> None:
    """Whatever the reference, building the request refuses it (BadReference) or dockerd reads back
    exactly it on exactly that route: nothing in between."""
    method, ours, theirs = route
    try:
        EngineRequest.build(method, ours, reference)
    except BadReference:
        return
    _round_trip(method, ours, theirs, reference)


# distribution/reference (v2.7, vendored by dockerd 20.10) and go-digest, from their sources: Go's regexp
# `\w` is ASCII; a digest names a known algorithm with exactly its length of lowercase hex.
_GO_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_GO_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_GO_DOMAIN = rf"{_GO_DOMAIN_PART}(?:\.{_GO_DOMAIN_PART})*(?::[0-9]+)?"
_GO_REFERENCE = re.compile(
    rf"(?P<name>(?:{_GO_DOMAIN}/)?{_GO_COMPONENT}(?:/{_GO_COMPONENT})*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def dockerd_accepts_image_name(value: str) -> bool:
    """Whether dockerd 20.10 reads `value` as an image reference or id (not "invalid reference format")."""
    if re.fullmatch(r"(?:sha256:)?[0-9a-f]{1,64}", value):
        return True  # an id or id prefix
    found = _GO_REFERENCE.fullmatch(value)
    if found is None or len(found["name"]) > 255:
        return False
    if found["algorithm"] is None:
        return True
    wanted = _DIGEST_LENGTHS.get(found["algorithm"])
    return wanted == len(found["hex"]) and re.fullmatch("[a-f0-9]+", found["hex"]) is not None


@settings(max_examples=400, deadline=None, database=None)
@given(
    reference=st.builds(
        lambda name, tag, digest: name + tag + digest,
        st.sampled_from(["busybox", "dwtest/busybox", "localhost:5000/a/b", "Busybox", "a..b", "a--b"]),
        st.one_of(st.just(""), st.text(min_size=1, max_size=6).map(lambda t: ":" + t)),
        st.one_of(
            st.just(""),
            st.builds(
                lambda algorithm, hexits: f"@{algorithm}:{hexits}",
                st.sampled_from(["sha256", "sha512", "md5", "SHA256"]),
                st.text(alphabet="0123456789abcdefABCDEF", min_size=30, max_size=130),
            ),
        ),
    )
)
def test_the_image_grammar_accepts_only_what_dockerd_reads_as_a_reference(reference: str) -> None:
    """An image reference our grammar lets through is one dockerd parses too: a tag with non-ASCII
    letters or a digest of the wrong length would otherwise reach lookups that fail in other ways."""
    try:
        check_reference(Kind.IMAGE, reference)
    except BadReference:
        return
    assert dockerd_accepts_image_name(reference), reference


def test_dockerd_view_reads_targets_as_go_does() -> None:
    """The oracle itself, on cases known from Go's net/url and gorilla/mux."""
    assert dockerd_view("GET", b"/v1.41/containers/a%2Fb/json").name == b"a/b"
    assert dockerd_view("GET", b"/containers/x/../y/json").status == 301
    assert dockerd_view("GET", b"/containers/x%2F..%2Fy/json").status == 301
    assert dockerd_view("GET", b"/containers/%zz/json").status == 400
    assert dockerd_view("GET", b"/containers/a?b/json").template == ""  # "/containers/a" is no GET route
    assert dockerd_view("DELETE", b"/containers/a?force=1").name == b"a"
    assert dockerd_view("GET", b"/containers/json/json").name == b"json"
    assert dockerd_view("GET", b"/containers/json").kind == ""
    assert dockerd_view("GET", b"/images/a/b:1/json").name == b"a/b:1"
    assert (
        dockerd_view("DELETE", b"/v1.41/images/localhost:5000/a@sha256:00").name
        == b"localhost:5000/a@sha256:00"
    )
    assert dockerd_view("GET", b"/networks/").template == "/networks/"
    assert go_path_unescape(b"a+%2b") == b"a++"


# --- the instruments themselves --------------------------------------------------------------------------


def test_the_property_catches_a_client_that_lets_dots_through(world: World) -> None:
    """docker-py leaves '/' unescaped: a reference walking up with '..' reaches another object. The check
    the properties use must see that (else a passing property proves nothing)."""
    world.ensure()
    reference = f"nothing/../{VICTIM}"
    client = docker.APIClient(base_url=world.recorder.unix_url, version=API_VERSION)
    world.recorder.take()
    with contextlib.suppress(docker.errors.APIError):
        client.inspect_container(reference)
    records = world.recorder.take()
    client.close()
    assert [dockerd_view(r.method, r.target).status for r in records][:1] == [301], explain(records)
    with pytest.raises(AssertionError, match="does not route it as sent"):
        assert_engine_named_only(world, records, reference, "container", {CONTAINER_GET})


@pytest.mark.parametrize(
    "target",
    [
        b"/v1.41/containers/x/../aas-none/json",
        b"/v1.41/containers/x%2F..%2Faas-none/json",
        b"/v1.41//containers/aas-none/json",
        b"/v1.41/containers/aas%zz/json",
        b"/v1.41/containers/aas-none/json",
        b"/v1.41/containers/aas%2Dnone/json",
        b"/v1.41/containers/aas-none/nothing",
        b"/v1.41/images/a/b:1/json",
    ],
)
def test_dockerd_view_agrees_with_the_engine(world: World, target: bytes) -> None:
    """The oracle against engine1 itself: a redirect, a refused escape, a routed lookup of a missing
    object ("No such ...") and a path with no route ("page not found") are told apart as dockerd does."""
    view = dockerd_view("GET", target)
    with Wire(unix=world.socket_path) as wire:
        status, _, body = wire.request("GET", target.decode())
    if view.status in (301, 400):
        assert status == view.status, (view, status, body)
    elif view.status == 404:
        assert status == 404 and b"page not found" in body, (view, status, body)
    else:
        assert status == 404 and b"page not found" not in body, (view, status, body)


def test_the_recorder_relays_hijacked_and_chunked_streams(world: World) -> None:
    """An exec (upgraded to a raw stream) and a log download (chunked) work through the recorder, and
    their request lines are recorded as sent."""
    world.ensure()
    client = docker.DockerClient(base_url=world.recorder.unix_url, version=API_VERSION, timeout=30)
    world.recorder.take()
    try:
        container = client.containers.get(VICTIM)
        result = container.exec_run(["echo", "through the recorder"])
        logs = container.logs()
    finally:
        client.close()
    assert (result.exit_code, result.output) == (0, b"through the recorder\n")
    assert logs == b""
    records = world.recorder.take()
    routes = [(r.method, dockerd_view(r.method, r.target).template) for r in records]
    assert ("POST", "/exec/{name}/start") in routes and ("GET", "/containers/{name}/logs") in routes, routes
    start = next(r for r in records if r.target.endswith(b"/start"))
    assert start.header("Upgrade") == b"tcp", start.headers
