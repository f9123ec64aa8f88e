"""Fixtures of the cross-team corpus (tests/access/test_cross_team.py): two teams on two engines, team B's
objects made once per module directly on the engines, and a gateway process over committed rows.

The cast: alice-ops (operator, team A), vera-view (viewer, team A), bob-ops (operator, team B: the owner
of every target). Each is granted personally on both hosts, so the viewer is not an operator through a
team grant. The hosts are the testbed engines as the `unix_host` and `tls_host` fixtures register them
(engine1 over its unix socket, engine2 over TCP with mutual TLS), committed because the gateway runs in
its own process.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import pytest
from django.contrib.auth.models import User
from django.db import connection

from hosts.models import ApiToken, AuditEntry, Grant, Host, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from images.models import Job, Registry
from tests.conftest import worker_database_url
from tests.gateway.conftest import Listener, start_gateway, stop_gateway, test_database
from tests.testbed import Engine, Testbed
from tests.testbed.images import LOCAL_TAG

__all__ = ["test_database"]  # the gateway package's committed test database, shared here

API_VERSION = "1.41"
TEAM_A, TEAM_B = "xteam-a", "xteam-b"
OPERATOR_A, VIEWER_A, OPERATOR_B = "alice-ops", "vera-view", "bob-ops"
ROLES = {OPERATOR_A: Role.OPERATOR, VIEWER_A: Role.VIEWER, OPERATOR_B: Role.OPERATOR}
TEAMS = {OPERATOR_A: TEAM_A, VIEWER_A: TEAM_A, OPERATOR_B: TEAM_B}
HOST_NAMES = {"unix": "xt-unix", "tls": "xt-tls"}
# A value that must never reach team A: the Env of B's running container.
SECRET = "xteam-b-secret-" + uuid.uuid4().hex
# B's containers whose names are route words of the engine API or the REST API.
ROUTE_WORDS = ("json", "create", "prune", "changes", "top")

REGISTRY_NAME = "cross-team-registry"


def owner_labels(user: str) -> dict[str, str]:
    """The labels dockerweb puts on an object `user` creates (hosts.access.owner_labels)."""
    return {OWNER_USER_LABEL: user, OWNER_TEAM_LABEL: TEAMS[user]}


@dataclass
class Targets:
    """Team B's objects on one engine (and team A's own, to aim from), as the corpus templates name them."""

    engine: str  # "unix" or "tls"
    host: Host
    refs: dict[str, str] = field(default_factory=dict)  # template key -> value

    def __getitem__(self, key: str) -> str:
        return self.refs[key]


@dataclass
class Cast:
    """Users, tokens, hosts and the gateway of the corpus."""

    tokens: dict[str, str]
    hosts: dict[str, Host]
    gateway: Listener
    registry: str


def engine_client(engine: Engine) -> docker.APIClient:
    """The low-level SDK on the engine's own unix socket: setup and verification bypass dockerweb."""
    return docker.APIClient(base_url=engine.unix_url, version=API_VERSION, timeout=60)


def _make_rows(testbed: Testbed) -> tuple[dict[str, str], dict[str, Host]]:
    tls = testbed.engine2.client_tls
    hosts = {
        "unix": Host.objects.create(name=HOST_NAMES["unix"], url=testbed.engine1.unix_url),
        "tls": Host.objects.create(
            name=HOST_NAMES["tls"],
            url=testbed.engine2.tls_url,
            tls_ca=tls.ca_pem,
            tls_cert=tls.cert_pem,
            tls_key=tls.key_pem,
        ),
    }
    teams = {name: Team.objects.create(name=name) for name in (TEAM_A, TEAM_B)}
    tokens = {}
    for name, role in ROLES.items():
        user = User.objects.create_user(name, f"{name}@example.com")
        teams[TEAMS[name]].members.add(user)
        for host in hosts.values():
            Grant.objects.create(user=user, host=host, role=role)
        tokens[name] = ApiToken.issue(user, "cross-team")[1]
    # The testbed registry, open to both teams: a push of B's image is refused for being B's, not for
    # want of a registry.
    Registry.objects.create(name=REGISTRY_NAME, url=testbed.registry_url, server=testbed.registry)
    return tokens, hosts


def _remove_rows() -> None:
    Job.objects.filter(user__username__in=list(ROLES)).delete()
    Host.objects.filter(name__in=HOST_NAMES.values()).delete()
    User.objects.filter(username__in=list(ROLES)).delete()
    Team.objects.filter(name__in=[TEAM_A, TEAM_B]).delete()
    Registry.objects.filter(name=REGISTRY_NAME).delete()
    # The audit log is append-only for the application; this module's rows go with plain SQL.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE username IN (%s, %s, %s)",  # noqa: S608
            list(ROLES),
        )


@pytest.fixture(scope="module")
def cast(
    testbed: Testbed,
    test_database: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cast]:
    """Committed users, teams, grants, tokens and hosts, and a gateway process reading them."""
    workdir = tmp_path_factory.mktemp("cross-team")
    with django_db_blocker.unblock():
        _remove_rows()  # leftovers of an interrupted run
        tokens, hosts = _make_rows(testbed)
        env = {"DATABASE_URL": worker_database_url(), "DJANGO_SETTINGS_MODULE": "dockerweb.settings"}
    listener = start_gateway(workdir, "cross-team", env)
    try:
        yield Cast(tokens, hosts, listener, testbed.registry)
    finally:
        stop_gateway(listener)
        with django_db_blocker.unblock():
            _remove_rows()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def committed(cast: Cast, django_db_blocker: Any) -> Iterator[None]:
    """Database access outside a transaction: the rows are shared with the gateway process."""
    with django_db_blocker.unblock():
        yield


def build_context(dockerfile: str) -> bytes:
    """A tar build context holding only a Dockerfile."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def retagged_save(api: docker.APIClient, image: str, tags: list[str]) -> bytes:
    """`docker save` of `image` with its manifest's RepoTags replaced: a `docker load` that names `tags`."""
    source = io.BytesIO(b"".join(api.get_image(image)))
    out = io.BytesIO()
    with tarfile.open(fileobj=source) as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name == "manifest.json" and data is not None:
                manifest = json.loads(data)
                manifest[0]["RepoTags"] = tags
                data = json.dumps(manifest).encode()
                member.size = len(data)
            elif member.name == "repositories":
                continue  # legacy index: RepoTags alone names the tags
            new.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


class World:
    """Makes and (after an attack that got through) restores team B's objects on one engine."""

    def __init__(self, engine_name: str, engine: Engine, host: Host, registry: str) -> None:
        self.api = engine_client(engine)
        self.suffix = uuid.uuid4().hex[:6]
        self.targets = Targets(engine_name, host)
        self.registry = registry
        self.b_labels = owner_labels(OPERATOR_B)
        self.a_labels = owner_labels(OPERATOR_A)

    # Names

    def name(self, what: str) -> str:
        return f"xb-{what}-{self.suffix}"

    @property
    def image_repo(self) -> str:
        return f"xb-{self.suffix}/app"

    # Setup

    def make(self) -> None:
        """Every object, once."""
        api, refs = self.api, self.targets.refs
        refs.update(host=self.targets.host.name, pk=str(self.targets.host.pk), base=LOCAL_TAG)
        refs["registry"] = self.registry
        self._build_image()
        self.api.create_volume(self.name("vol"), labels=self.b_labels)
        refs["vol"] = self.name("vol")
        refs["net_id"] = api.create_network(self.name("net"), labels=self.b_labels)["Id"]
        refs["net"] = self.name("net")
        a_net = api.create_network(f"xa-net-{self.suffix}", labels=self.a_labels)
        refs.update(a_net=f"xa-net-{self.suffix}", a_net_id=a_net["Id"])
        api.create_volume(f"xa-vol-{self.suffix}", labels=self.a_labels)
        refs["a_vol"] = f"xa-vol-{self.suffix}"
        refs["a_ctr"] = f"xa-ctr-{self.suffix}"
        self._container("a_ctr", refs["a_ctr"], self.a_labels, LOCAL_TAG, running=True)
        api.tag(LOCAL_TAG, f"xa-{self.suffix}/mine", "1")
        refs["a_img"] = f"xa-{self.suffix}/mine:1"
        self.ensure()

    def _build_image(self) -> None:
        context = build_context(f"FROM {LOCAL_TAG}\nLABEL xteam=b\n")
        for _ in self.api.build(
            fileobj=io.BytesIO(context), custom_context=True, tag=f"{self.image_repo}:1",
            labels=self.b_labels, rm=True, decode=True,
        ):  # fmt: skip
            pass
        image_id = self.api.inspect_image(f"{self.image_repo}:1")["Id"]
        self.api.tag(image_id, f"{self.registry}/{self.image_repo}", "1")
        self.targets.refs.update(
            img=f"{self.image_repo}:1",
            img_repo=self.image_repo,
            img_id=image_id,
            img_hex=image_id.removeprefix("sha256:"),
            reg_img=f"{self.registry}/{self.image_repo}:1",
        )

    def _container(
        self, key: str, name: str, labels: dict[str, str], image: str, *, running: bool, **extra: Any
    ) -> None:
        try:
            info = self.api.inspect_container(name)
        except docker.errors.NotFound:
            created = self.api.create_container(image, ["sleep", "3600"], name=name, labels=labels, **extra)
            info = self.api.inspect_container(created["Id"])
        if running and not info["State"]["Running"]:
            if info["State"]["Paused"]:
                self.api.unpause(info["Id"])
            else:
                self.api.start(info["Id"])
        if not running and info["State"]["Running"]:
            self.api.kill(info["Id"])
            self.api.wait(info["Id"], timeout=30)
        self.targets.refs[key] = name
        self.targets.refs[f"{key}_id"] = info["Id"]

    def ensure(self) -> None:
        """B's objects exist and are as made; what an attack changed is put back (ids may change)."""
        refs = self.targets.refs
        env = {"environment": [f"XB_SECRET={SECRET}"]}
        self._container("run", self.name("run"), self.b_labels, refs["img"], running=True, **env)
        self._container("stop", self.name("stop"), self.b_labels, refs["img"], running=False)
        for word in ROUTE_WORDS:
            self._container(f"w_{word}", word, self.b_labels, refs["img"], running=True)
        for key, expected in (("run", refs["net"]), ("a_ctr", refs["a_net"])):
            attached = self.api.inspect_network(expected)["Containers"] or {}
            if refs[f"{key}_id"] not in attached:
                self.api.connect_container_to_network(refs[key], expected)
        for network, own in ((refs["net"], {refs["run_id"]}), (refs["a_net"], {refs["a_ctr_id"]})):
            for container_id in set(self.api.inspect_network(network)["Containers"] or {}) - own:
                self.api.disconnect_container_from_network(container_id, network, force=True)
        for repo in (self.image_repo, f"{self.registry}/{self.image_repo}"):
            try:
                moved = self.api.inspect_image(f"{repo}:1")["Id"] != refs["img_id"]
            except docker.errors.NotFound:
                moved = True
            if moved:
                self.api.tag(refs["img_id"], repo, "1")
        self._exec()
        refs.update(
            run_cyr=refs["run"].replace("x", "\u0445", 1),  # Cyrillic kha for the Latin x
            stop_cyr=refs["stop"].replace("x", "\u0445", 1),
            vol_cyr=refs["vol"].replace("x", "\u0445", 1),
        )
        for key in ("job", "failed_job"):
            if key in refs:
                refs[f"{key}_upper"] = refs[key].upper()
                refs[f"{key}_hex"] = refs[key].replace("-", "")

    def _exec(self) -> None:
        refs = self.targets.refs
        try:
            state = self.api.exec_inspect(refs["exec"])
            fresh = not state["Running"] and state["Pid"] == 0 and state["ContainerID"] == refs["run_id"]
        except (KeyError, docker.errors.NotFound):
            fresh = False
        if not fresh:  # an exec created in B's container and never started
            refs["exec"] = self.api.exec_create(refs["run"], ["sh", "-c", "echo exec-of-b"])["Id"]

    def remove(self) -> None:
        """Everything this world made, and anything left on the engine with this run's suffix."""
        for info in self.api.containers(all=True):
            names = [n.lstrip("/") for n in info["Names"]]
            if any(self.suffix in n or n in ROUTE_WORDS for n in names):
                self.api.remove_container(info["Id"], force=True)
        for network in self.api.networks():
            if self.suffix in network["Name"]:
                self.api.remove_network(network["Id"])
        for volume in self.api.volumes().get("Volumes") or []:
            if self.suffix in volume["Name"]:
                self.api.remove_volume(volume["Name"], force=True)
        # By tag, never by image id: a tag of this run may name a shared image (the testbed's own), which
        # other tests still use; untagging leaves it. One still in use stays (the engine goes with the run).
        tags = [t for i in self.api.images() for t in i.get("RepoTags") or [] if self.suffix in t]
        for tag in tags:
            try:
                self.api.remove_image(tag)
            except docker.errors.APIError as exc:
                if exc.status_code not in (404, 409):
                    raise
        self.api.close()


@pytest.fixture(scope="module")
def worlds(cast: Cast, testbed: Testbed, django_db_blocker: Any) -> Iterator[dict[str, World]]:
    """Team B's objects (and A's own) on both engines, made once; and B's jobs on both hosts."""
    made = {
        "unix": World("unix", testbed.engine1, cast.hosts["unix"], cast.registry),
        "tls": World("tls", testbed.engine2, cast.hosts["tls"], cast.registry),
    }
    try:
        with django_db_blocker.unblock():
            owner = User.objects.get(username=OPERATOR_B)
            for world in made.values():
                world.make()
                for key, status in (("job", "queued"), ("failed_job", "failed")):
                    job = Job.objects.create(
                        kind="pull", host=world.targets.host, user=owner, status=status,
                        params={"image": f"{cast.registry}/xb-secret-repo:1"},
                    )  # fmt: skip
                    world.targets.refs[key] = str(job.pk)
                world.ensure()
        yield made
    finally:
        for world in made.values():
            world.remove()
