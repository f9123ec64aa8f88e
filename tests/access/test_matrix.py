"""The authorization matrix: every REST endpoint x every kind of caller, allowed or denied.

The endpoint list is read from the URL configuration, so an endpoint added without a row here fails
`test_every_endpoint_is_in_the_matrix`.
"""

from __future__ import annotations

import io
import itertools
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import docker
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from hosts import client_certs
from hosts.access import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from hosts.models import ApiToken, AuditEntry, ClientCertificate, Grant, Host, Role, Team
from images.models import Job, Registry
from tests.hosts.context_exports import export_bytes
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


class Need(Enum):
    PUBLIC = "anyone"
    AUTHENTICATED = "any signed-in caller"
    VIEWER = "viewer on the host"
    OPERATOR = "operator on the host"
    HOST_ADMIN = "admin on the host"
    SUPERUSER = "inventory administrator"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role | None  # role on the target host
    team: str = ""
    superuser: bool = False
    anonymous: bool = False


PRINCIPALS = [
    Principal("anonymous", None, anonymous=True),
    Principal("nogrant", None),
    Principal("viewer", Role.VIEWER, team="red"),  # through team red's viewer grant
    Principal("operator", Role.OPERATOR, team="red"),  # a member of red, granted operator himself
    Principal("other-team-operator", Role.OPERATOR, team="blue"),  # through team blue's grant on a label
    Principal("host-admin", Role.ADMIN),
    Principal("superuser", Role.ADMIN, superuser=True),
    Principal("scoped-token", None),  # operator on the host, but the token is limited to staging-*
    Principal("capped-token", Role.VIEWER, team="red"),  # admin on the host, token capped at viewer
]
# Containers on the target host, by owner: red's, blue's, and one with no owner label (not shared).
OWNERS = ["red", "blue", "unowned"]


def is_allowed(need: Need, who: Principal, owner: str | None = None) -> bool:
    if need is Need.PUBLIC:
        return True
    if who.anonymous:
        return False
    rank = who.role.rank if who.role is not None else -1
    allowed = {
        Need.AUTHENTICATED: True,
        Need.VIEWER: rank >= Role.VIEWER.rank,
        Need.OPERATOR: rank >= Role.OPERATOR.rank,
        Need.HOST_ADMIN: rank >= Role.ADMIN.rank,
        Need.SUPERUSER: who.superuser,
    }[need]
    if owner is None or who.role is Role.ADMIN:
        return allowed
    return allowed and owner == who.team


@dataclass
class World:
    host: Host
    team: Team
    clients: dict[str, APIClient]
    users: dict[str, User]
    image: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # plaintext bearer tokens, by principal
    container: str = ""  # the targets of per-object rows, all with the same owner
    network: str = ""
    volume: str = ""


Request = Callable[[APIClient, World], Any]

# (url name, method) -> who may, and how to call it. Calls target objects the caller may see if allowed.
MATRIX: dict[tuple[str, str], tuple[Need, Request]] = {
    ("host-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/hosts/")),
    ("host-list", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post(
            "/api/v1/hosts/?check=false", {"name": "new", "url": "unix:///x.sock"}, format="json"
        ),
    ),
    ("host-detail", "GET"): (Need.VIEWER, lambda c, w: c.get(f"/api/v1/hosts/{w.host.pk}/")),
    ("host-detail", "PATCH"): (
        Need.HOST_ADMIN,
        lambda c, w: c.patch(
            f"/api/v1/hosts/{w.host.pk}/",
            {"policy": {"allowed_registries": []}, "unowned_access": False},
            format="json",
        ),
    ),
    ("host-detail", "PUT"): (
        Need.HOST_ADMIN,
        lambda c, w: c.put(
            f"/api/v1/hosts/{w.host.pk}/?check=false",
            {"name": w.host.name, "url": w.host.url, "labels": {"env": "prod"}},
            format="json",
        ),
    ),
    ("host-detail", "DELETE"): (Need.SUPERUSER, lambda c, w: c.delete(f"/api/v1/hosts/{w.host.pk}/")),
    ("host-import-contexts", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post(
            "/api/v1/hosts/import-contexts/?check=false",
            {"contexts": [SimpleUploadedFile("m.dockercontext", export_bytes("mx-ctx", "unix:///x.sock"))]},
            format="multipart",
        ),
    ),
    ("host-refresh", "POST"): (Need.HOST_ADMIN, lambda c, w: c.post(f"/api/v1/hosts/{w.host.pk}/refresh/")),
    ("host-info", "GET"): (Need.VIEWER, lambda c, w: c.get(f"/api/v1/hosts/{w.host.pk}/info/")),
    ("host-ping", "GET"): (Need.VIEWER, lambda c, w: c.get(f"/api/v1/hosts/{w.host.pk}/ping/")),
    ("token-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/tokens/")),
    ("token-list", "POST"): (
        Need.AUTHENTICATED,
        lambda c, w: c.post("/api/v1/tokens/", {"name": "n"}, format="json"),
    ),
    ("token-detail", "DELETE"): (
        Need.AUTHENTICATED,
        lambda c, w: c.delete(f"/api/v1/tokens/{_own_token(c).pk}/"),
    ),
    # Client certificates: everyone issues and lists their own (a limited token passes its limits on);
    # someone else's certificate is for inventory administrators only.
    ("certificate-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/certificates/")),
    ("certificate-list", "POST"): (
        Need.AUTHENTICATED,
        lambda c, w: c.post("/api/v1/certificates/", {"name": _fresh()}, format="json"),
    ),
    ("certificate-detail", "GET"): (
        Need.SUPERUSER,
        lambda c, w: c.get(f"/api/v1/certificates/{_foreign_certificate(w).pk}/"),
    ),
    ("certificate-revoke", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post(f"/api/v1/certificates/{_foreign_certificate(w).pk}/revoke/"),
    ),
    ("user-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/users/")),
    ("user-list", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post(
            "/api/v1/users/", {"username": _fresh(), "password": "a-long-pass-word-9"}, format="json"
        ),
    ),
    ("user-detail", "GET"): (Need.SUPERUSER, lambda c, w: c.get(f"/api/v1/users/{_bystander().pk}/")),
    ("user-detail", "PATCH"): (
        Need.SUPERUSER,
        lambda c, w: c.patch(f"/api/v1/users/{_bystander().pk}/", {"first_name": "B"}, format="json"),
    ),
    ("user-detail", "PUT"): (
        Need.SUPERUSER,
        lambda c, w: c.put(f"/api/v1/users/{_bystander().pk}/", {"username": "bystander"}, format="json"),
    ),
    ("team-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/teams/")),
    ("team-list", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post("/api/v1/teams/", {"name": "green"}, format="json"),
    ),
    ("team-detail", "GET"): (Need.SUPERUSER, lambda c, w: c.get(f"/api/v1/teams/{w.team.pk}/")),
    ("team-detail", "PATCH"): (
        Need.SUPERUSER,
        lambda c, w: c.patch(f"/api/v1/teams/{w.team.pk}/", {"description": "d"}, format="json"),
    ),
    ("team-detail", "PUT"): (
        Need.SUPERUSER,
        lambda c, w: c.put(
            f"/api/v1/teams/{w.team.pk}/", {"name": "green-team", "description": "d"}, format="json"
        ),
    ),
    ("team-detail", "DELETE"): (Need.SUPERUSER, lambda c, w: c.delete(f"/api/v1/teams/{w.team.pk}/")),
    ("grant-list", "GET"): (Need.HOST_ADMIN, lambda c, w: c.get("/api/v1/grants/")),
    ("grant-list", "POST"): (
        Need.HOST_ADMIN,
        lambda c, w: c.post(
            "/api/v1/grants/", {"team": "green-team", "host": w.host.name, "role": "viewer"}, format="json"
        ),
    ),
    ("grant-detail", "GET"): (Need.HOST_ADMIN, lambda c, w: c.get(f"/api/v1/grants/{_a_grant(w).pk}/")),
    ("grant-detail", "PATCH"): (
        Need.HOST_ADMIN,
        lambda c, w: c.patch(f"/api/v1/grants/{_a_grant(w).pk}/", {"role": "viewer"}, format="json"),
    ),
    ("grant-detail", "PUT"): (
        Need.HOST_ADMIN,
        lambda c, w: c.put(
            f"/api/v1/grants/{_a_grant(w).pk}/",
            {"team": "green-team", "host": w.host.name, "role": "admin"},
            format="json",
        ),
    ),
    ("grant-detail", "DELETE"): (Need.HOST_ADMIN, lambda c, w: c.delete(f"/api/v1/grants/{_a_grant(w).pk}/")),
    ("me", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/me/")),
    ("audit-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/audit/")),
    ("audit-detail", "GET"): (
        Need.SUPERUSER,
        lambda c, w: c.get(f"/api/v1/audit/{_foreign_audit_entry(w).pk}/"),
    ),
    ("audit-export", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/audit/export/")),
    ("schema", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/schema/")),
    ("api-docs", "GET"): (Need.PUBLIC, lambda c, w: c.get("/api/v1/docs/")),
    ("containers-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/containers/")),
    ("containers-bulk", "POST"): (
        # Always answered; each item reports its own refusal.
        Need.AUTHENTICATED,
        lambda c, w: c.post(
            "/api/v1/containers/bulk/",
            {"action": "start", "containers": [{"host": w.host.pk, "id": "x"}]},
            format="json",
        ),
    ),
    ("container-list", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"/api/v1/hosts/{w.host.pk}/containers/", {"image": w.image, "name": _fresh()}, format="json"
        ),
    ),
    ("container-run", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"/api/v1/hosts/{w.host.pk}/containers/run/",
            {"image": w.image, "name": _fresh(), "command": ["true"]},
            format="json",
        ),
    ),
    ("container-prune", "POST"): (
        Need.HOST_ADMIN,
        lambda c, w: c.post(f"/api/v1/hosts/{w.host.pk}/containers/prune/"),
    ),
    ("network-list", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/networks/")),
    ("network-list", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/networks/", {"name": _fresh()}, format="json"),
    ),
    ("network-prune", "POST"): (Need.HOST_ADMIN, lambda c, w: c.post(f"{_h(w)}/networks/prune/")),
    ("volume-list", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/volumes/")),
    ("volume-list", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/volumes/", {"name": _fresh()}, format="json"),
    ),
    ("volume-prune", "POST"): (Need.HOST_ADMIN, lambda c, w: c.post(f"{_h(w)}/volumes/prune/")),
    ("event-list", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/events/?since=0")),
    # Images: nothing here can reach a public registry (pulls and pushes name localhost:1, where
    # nothing listens), and queued jobs that a worker runs later fail at once.
    ("images-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/images/")),
    ("image-list", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/images/")),
    ("image-detail", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/images/{w.image}/")),
    ("image-detail", "DELETE"): (
        Need.OPERATOR,
        lambda c, w: c.delete(f"{_h(w)}/images/{_image_copy(w, 'mx-del')}/"),
    ),
    ("image-history", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/images/{w.image}/history/")),
    ("image-tag", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/images/{w.image}/tag/", {"repository": "mx-tag"}, format="json"),
    ),
    ("image-export", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/images/{w.image}/export/")),
    ("image-load", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/images/load/", _tar(), content_type="application/x-tar"),
    ),
    ("image-prune", "POST"): (Need.HOST_ADMIN, lambda c, w: c.post(f"{_h(w)}/images/prune/")),
    ("image-search", "GET"): (
        Need.VIEWER,
        lambda c, w: c.get(f"{_h(w)}/images/search/?term={_registry(w).address}/mx"),
    ),
    ("image-pull", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/images/pull/", {"image": "localhost:1/mx:1"}, format="json"),
    ),
    ("image-push", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"{_h(w)}/images/push/",
            {"image": f"{_registry(w).address}/mx:1", "source": w.image},
            format="json",
        ),
    ),
    ("image-build", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"{_h(w)}/images/build/", {"dockerfile_text": "FROM scratch\nLABEL mx=1\n"}, format="json"
        ),
    ),
    ("job-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/jobs/")),
    ("job-list", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            "/api/v1/jobs/",
            {"kind": "pull", "host": w.host.pk, "params": {"image": "localhost:1/mx:1"}},
            format="json",
        ),
    ),
    # Someone else's job: only admins of its host see it (and cancel or retry it).
    ("job-detail", "GET"): (Need.HOST_ADMIN, lambda c, w: c.get(f"/api/v1/jobs/{foreign_job(w).pk}/")),
    ("job-cancel", "POST"): (
        Need.HOST_ADMIN,
        lambda c, w: c.post(f"/api/v1/jobs/{foreign_job(w).pk}/cancel/"),
    ),
    ("job-retry", "POST"): (
        Need.HOST_ADMIN,
        lambda c, w: c.post(f"/api/v1/jobs/{foreign_job(w, 'failed').pk}/retry/"),
    ),
    ("registry-list", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get("/api/v1/registries/")),
    ("registry-list", "POST"): (
        Need.SUPERUSER,
        lambda c, w: c.post(
            "/api/v1/registries/",
            {"name": "mx-new", "url": "http://127.0.0.1:1", "password": "p"},
            format="json",
        ),
    ),
    ("registry-detail", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get(_r(w))),
    ("registry-detail", "PUT"): (
        Need.SUPERUSER,
        lambda c, w: c.put(_r(w), {"name": "mx", "url": "http://127.0.0.1:1"}, format="json"),
    ),
    ("registry-detail", "PATCH"): (
        Need.SUPERUSER,
        lambda c, w: c.patch(_r(w), {"username": "robot"}, format="json"),
    ),
    ("registry-detail", "DELETE"): (Need.SUPERUSER, lambda c, w: c.delete(_r(w))),
    ("registry-test", "POST"): (Need.AUTHENTICATED, lambda c, w: c.post(f"{_r(w)}test/")),
    ("registry-catalog", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get(f"{_r(w)}catalog/")),
    ("registry-tags", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get(f"{_r(w)}tags/?repository=mx")),
    ("registry-search", "GET"): (Need.AUTHENTICATED, lambda c, w: c.get(f"{_r(w)}search/?q=mx")),
}


def _fresh() -> str:
    return f"mx-new-{uuid.uuid4().hex[:10]}"


def _c(world: World, suffix: str = "") -> str:
    return f"/api/v1/hosts/{world.host.pk}/containers/{world.container}/{suffix}"


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("matrix.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    return buffer.getvalue()


def _registry(world: World) -> Registry:
    """A registry open to everyone at an address where nothing listens."""
    registry, _ = Registry.objects.get_or_create(name="mx", defaults={"url": "http://127.0.0.1:1"})
    return registry


def _r(world: World) -> str:
    return f"/api/v1/registries/{_registry(world).pk}/"


def _image_copy(world: World, repository: str) -> str:
    """A fresh tag of the test image, to remove."""
    client = docker.DockerClient(base_url=world.host.url)
    try:
        client.images.get(world.image).tag(repository, "1")
    finally:
        client.close()
    return f"{repository}:1"


def foreign_job(world: World, status: str = "queued") -> Job:
    """A job of someone who is none of the principals (an operator on the host)."""
    owner, created = User.objects.get_or_create(username="job-owner")
    if created:
        Grant.objects.create(user=owner, host=world.host, role=Role.OPERATOR)
    return Job.objects.create(
        kind="pull", host=world.host, user=owner, params={"image": "localhost:1/mx:1"}, status=status
    )


# Rows about one container: checked against a container of each owner in OWNERS.
PER_OBJECT: dict[tuple[str, str], tuple[Need, Request]] = {
    ("container-detail", "GET"): (Need.VIEWER, lambda c, w: c.get(_c(w))),
    ("container-detail", "DELETE"): (Need.OPERATOR, lambda c, w: c.delete(_c(w) + "?force=true")),
    ("container-start", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "start/"))),
    ("container-stop", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "stop/?t=0"))),
    ("container-restart", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "restart/?t=0"))),
    ("container-kill", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "kill/"))),
    ("container-pause", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "pause/"))),
    ("container-unpause", "POST"): (Need.OPERATOR, lambda c, w: c.post(_c(w, "unpause/"))),
    ("container-rename", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(_c(w, "rename/"), {"name": w.container}, format="json"),
    ),
    ("container-top", "GET"): (Need.VIEWER, lambda c, w: c.get(_c(w, "top/"))),
    ("container-changes", "GET"): (Need.VIEWER, lambda c, w: c.get(_c(w, "changes/"))),
    ("container-logs", "GET"): (Need.VIEWER, lambda c, w: c.get(_c(w, "logs/"))),
    ("container-archive", "GET"): (Need.OPERATOR, lambda c, w: c.get(_c(w, "archive/?path=/bin/sh"))),
    ("container-archive", "PUT"): (
        Need.OPERATOR,
        lambda c, w: c.put(_c(w, "archive/?path=/"), _tar(), content_type="application/x-tar"),
    ),
    ("network-detail", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/networks/{w.network}/")),
    ("network-detail", "DELETE"): (Need.OPERATOR, lambda c, w: c.delete(f"{_h(w)}/networks/{w.network}/")),
    ("network-connect", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"{_h(w)}/networks/{w.network}/connect/", {"container": w.container}, format="json"
        ),
    ),
    ("network-disconnect", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(
            f"{_h(w)}/networks/{w.network}/disconnect/", {"container": w.container}, format="json"
        ),
    ),
    ("volume-detail", "GET"): (Need.VIEWER, lambda c, w: c.get(f"{_h(w)}/volumes/{w.volume}/")),
    ("volume-detail", "DELETE"): (
        Need.OPERATOR,
        lambda c, w: c.delete(f"{_h(w)}/volumes/{w.volume}/?force=true"),
    ),
    ("image-commit", "POST"): (
        Need.OPERATOR,
        lambda c, w: c.post(f"{_h(w)}/images/commit/", {"container": w.container}, format="json"),
    ),
}


def _h(world: World) -> str:
    return f"/api/v1/hosts/{world.host.pk}"


def _own_token(client: APIClient) -> ApiToken:
    header = client._credentials.get("HTTP_AUTHORIZATION", "")  # type: ignore[attr-defined]
    token = ApiToken.find(header.removeprefix("Bearer "))
    if token is None:  # anonymous: any token id will do, it must be refused
        return ApiToken.objects.first() or ApiToken(pk=1)
    return token


def _a_grant(world: World) -> Grant:
    return Grant.objects.get(team__name="green-team")


def _foreign_audit_entry(world: World) -> AuditEntry:
    # An entry of someone who is none of the principals: only inventory administrators may read it.
    return AuditEntry.objects.get(username="somebody-else")


def _bystander() -> User:
    """A user who is none of the principals."""
    return User.objects.get_or_create(username="bystander")[0]


def _foreign_certificate(world: World) -> ClientCertificate:
    """A client certificate of someone who is none of the principals."""
    owner, _ = User.objects.get_or_create(username="cert-owner")
    return client_certs.issue(owner, _fresh()).row


def _api_patterns() -> set[tuple[str, str]]:
    """(url name, method) for every endpoint under /api/v1/, read from the URL configuration."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            if not route.startswith("api/v1/") or "format" in route or pattern.name in (None, "api-root"):
                continue
            callback: Any = pattern.callback
            actions = getattr(callback, "actions", None)
            if actions:
                methods = {method.upper() for method in actions}
            else:
                view_class = callback.view_class
                methods = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
            for method in methods - {"OPTIONS", "HEAD"}:
                found.add((str(pattern.name), method))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_endpoint_is_in_the_matrix() -> None:
    endpoints = _api_patterns()
    covered = MATRIX.keys() | PER_OBJECT.keys()
    missing = endpoints - covered
    assert not missing, f"add these endpoints to the authorization matrix: {sorted(missing)}"
    assert not covered - endpoints, "the matrix names endpoints that no longer exist"


@pytest.fixture
def world(testbed: Testbed) -> World:
    host = Host.objects.create(name="prod", url=testbed.engine1.unix_url, labels={"env": "prod"})
    red = Team.objects.create(name="red")
    blue = Team.objects.create(name="blue")
    green = Team.objects.create(name="green-team")
    Grant.objects.create(team=green, host=host, role=Role.OPERATOR)
    users = {
        p.name: User.objects.create_user(p.name, is_superuser=p.superuser)
        for p in PRINCIPALS
        if not p.anonymous
    }
    red.members.add(users["operator"], users["viewer"], users["capped-token"])
    blue.members.add(users["other-team-operator"])
    Grant.objects.create(team=red, host=host, role=Role.VIEWER)
    Grant.objects.create(user=users["operator"], host=host, role=Role.OPERATOR)
    Grant.objects.create(team=blue, host_label="env=prod", role=Role.OPERATOR)
    Grant.objects.create(user=users["host-admin"], host=host, role=Role.ADMIN)
    Grant.objects.create(user=users["scoped-token"], host=host, role=Role.OPERATOR)
    Grant.objects.create(user=users["capped-token"], host=host, role=Role.ADMIN)
    AuditEntry.objects.create(username="somebody-else", entry_point="rest", action="x", outcome="success")

    clients = {"anonymous": APIClient()}
    tokens = {}
    for name, user in users.items():
        _, plaintext = ApiToken.issue(user, "matrix")
        tokens[name] = plaintext
        if name == "scoped-token":
            ApiToken.objects.filter(user=user).update(scope_hosts=["staging-*"])
        if name == "capped-token":
            ApiToken.objects.filter(user=user).update(max_role=Role.VIEWER)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        clients[name] = client
    # Nobody in the matrix belongs to green-team: only inventory administrators may see it.
    return World(host=host, team=green, clients=clients, users=users, image=testbed.images[0], tokens=tokens)


@pytest.fixture(scope="module")
def owned_objects(testbed: Testbed) -> Iterator[Callable[[str], str]]:
    """A container, network and volume per owner, (re)made on demand; all removed at the end of the module."""
    client = docker.DockerClient(base_url=testbed.engine1.unix_url)
    suffix = uuid.uuid4().hex[:6]

    def ready(owner: str) -> str:
        name = f"mx-{owner}-{suffix}"
        labels = {} if owner == "unowned" else {OWNER_USER_LABEL: f"{owner}-member", OWNER_TEAM_LABEL: owner}
        try:
            container = client.containers.get(name)
        except docker.errors.NotFound:
            container = client.containers.create(
                testbed.images[0], ["sleep", "600"], name=name, labels=labels
            )
        if container.status == "paused":
            container.unpause()
        if container.status != "running":
            container.start()
        if not client.networks.list(names=[name]):
            client.networks.create(name, labels=labels)
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            client.volumes.create(name, labels=labels)
        return name

    yield ready
    for container in client.containers.list(all=True, filters={"name": "mx-"}):
        container.remove(force=True)
    for network in client.networks.list(names=["mx-"]):
        network.remove()
    for volume in client.volumes.list(filters={"name": "mx-"}):
        volume.remove(force=True)
    client.close()


def _check(response: Any, expected: bool, label: str) -> None:
    denied = response.status_code in (401, 403, 404)
    body = b"".join(response.streaming_content)[:300] if response.streaming else response.content[:300]
    assert denied != expected, f"{label}: {response.status_code} {body!r}"
    if denied and response.status_code != 401:
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()


@pytest.mark.parametrize(
    ("endpoint", "principal", "owner"),
    list(itertools.product(sorted(PER_OBJECT), PRINCIPALS, OWNERS)),
    ids=lambda value: f"{value[0]}:{value[1]}" if isinstance(value, tuple) else getattr(value, "name", value),
)
def test_matrix_per_object(
    world: World,
    owned_objects: Callable[[str], str],
    endpoint: tuple[str, str],
    principal: Principal,
    owner: str,
) -> None:
    world.container = world.network = world.volume = owned_objects(owner)
    need, call = PER_OBJECT[endpoint]
    response = call(world.clients[principal.name], world)
    expected = is_allowed(need, principal, owner)
    _check(response, expected, f"{principal.name} {endpoint} on {owner}'s object, expected {need.value}")


@pytest.mark.parametrize(
    ("endpoint", "principal"),
    list(itertools.product(sorted(MATRIX), PRINCIPALS)),
    ids=lambda value: f"{value[0]}:{value[1]}" if isinstance(value, tuple) else value.name,
)
def test_matrix(world: World, endpoint: tuple[str, str], principal: Principal) -> None:
    need, call = MATRIX[endpoint]
    response = call(world.clients[principal.name], world)
    expected = is_allowed(need, principal)
    denied = response.status_code in (401, 403, 404)
    body = b"".join(response.streaming_content)[:300] if response.streaming else response.content[:300]
    assert denied != expected, (
        f"{principal.name} {endpoint}: {response.status_code} {body!r}, expected {need.value}"
    )
    if denied and response.status_code != 401:
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()
