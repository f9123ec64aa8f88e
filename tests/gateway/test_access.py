"""Tokens, roles, ownership, the admission policy and the audit log, through the gateway."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import docker
import docker.errors
import pytest
from django.contrib.auth.models import User

from hosts.models import ApiToken, AuditEntry, Grant, Host, Outcome, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL, apply_owner_labels
from tests.gateway.clis import DockerCli, find_docker_clis
from tests.gateway.conftest import IMAGE, UNIX_HOST, Gateway
from tests.policy.corpus import (
    BIND_PREFIX,
    ESCALATIONS,
    OPT_VOLUME,
    POLICY_MINE,
    POLICY_THEIRS,
    SETTINGS,
    USER_NETWORK,
    Case,
)

CLIS = find_docker_clis()
pytestmark = pytest.mark.skipif(not CLIS, reason="no docker CLI on this machine (Debian package docker.io)")
POLICY_HOST = "gw-policy"
UPGRADE = {"Connection": "Upgrade"}
JSON = {"Content-Type": "application/json"}
ME, THEM = ("opal", "team-a"), ("mallory", "team-b")  # as in the corpus


@pytest.fixture(scope="module")
def cli() -> DockerCli:
    return CLIS[-1]


def docker_as(
    gateway: Gateway, cli: DockerCli, user: str | None, *args: str, host: str = UNIX_HOST, **kwargs: Any
) -> Any:
    """`docker ARGS` through the gateway as `user` (None: no token); never raises on a failed exit."""
    return cli.run(
        *args, docker_host=gateway.plain.url(host), config=gateway.docker_config(user), check=False, **kwargs
    )


def request(
    gateway: Gateway, method: str, path: str, *, user: str | None = None, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the path is sent exactly as given); (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.plain.port, timeout=30)
    try:
        sent = dict(headers)
        if user is not None:
            sent["Authorization"] = f"Bearer {gateway.tokens[user]}"
        connection.request(method, path, body=body or None, headers=sent)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_without_a_valid_token_nothing_passes(gateway: Gateway, cli: DockerCli) -> None:
    calls = [
        ("HEAD", f"/hosts/{UNIX_HOST}/_ping", b"", {}),
        ("GET", f"/hosts/{UNIX_HOST}/v1.41/containers/json", b"", {}),
        ("POST", f"/hosts/{UNIX_HOST}/v1.41/containers/create", json.dumps({"Image": IMAGE}).encode(), JSON),
        (
            "POST",
            f"/hosts/{UNIX_HOST}/v1.41/exec/abc/start",
            b"{}",
            {"Connection": "Upgrade", "Upgrade": "tcp"},
        ),
        ("POST", "/session", b"", {"Connection": "Upgrade", "Upgrade": "h2c"}),
    ]
    for method, path, body, headers in calls:
        for authorization in (None, "Bearer dw_nope_nope", "Basic YWxpY2U6eA=="):
            extra = {**headers, **({"Authorization": authorization} if authorization else {})}
            status, reply_headers, reply = request(gateway, method, path, body=body, **extra)
            assert status == 401, (method, path, authorization, reply)
            assert reply_headers["WWW-Authenticate"] == 'Bearer realm="dockerweb"'
            if method != "HEAD":
                assert "token" in json.loads(reply)["message"]
    refused = docker_as(gateway, cli, None, "ps")
    assert refused.returncode != 0
    assert "authentication required" in refused.stderr and "HttpHeaders" in refused.stderr


def test_a_host_the_caller_has_no_grant_on_is_not_found(gateway: Gateway, cli: DockerCli) -> None:
    for user, host in (("nadia", UNIX_HOST), ("bob", "gw-tls"), ("alice", "no-such-host")):
        result = docker_as(gateway, cli, user, "ps", host=host)
        assert result.returncode != 0
        assert f"No host '{host}' is visible to you" in result.stderr


def test_a_viewer_lists_but_cannot_run(gateway: Gateway, cli: DockerCli) -> None:
    assert docker_as(gateway, cli, "victor", "ps").returncode == 0
    refused = docker_as(gateway, cli, "victor", "run", "--rm", IMAGE, "true")
    assert refused.returncode == 125
    assert "is viewer" in refused.stderr and "needs operator" in refused.stderr


def test_a_viewer_sees_their_containers_without_environment_values(
    gateway: Gateway, cli: DockerCli, engine1: docker.DockerClient
) -> None:
    labels = {OWNER_USER_LABEL: "victor"}
    container = engine1.containers.create(IMAGE, ["true"], environment={"TOKEN": "s3cret"}, labels=labels)
    try:
        env = ("container", "inspect", "-f", "{{json .Config.Env}}", container.id)
        assert json.loads(docker_as(gateway, cli, "victor", *env).stdout) == [
            "TOKEN=[hidden]",
            "PATH=[hidden]",
        ]
        assert "TOKEN=s3cret" in json.loads(docker_as(gateway, cli, "alice", *env).stdout)
    finally:
        container.remove(force=True)


def test_the_policy_refuses_an_operators_escalations_through_the_cli(
    gateway: Gateway, cli: DockerCli, committed: None
) -> None:
    attempts = {
        "no-privileged": ("--privileged",),
        "no-bind-mounts": ("-v", "/:/host"),
    }
    for rule, options in attempts.items():
        refused = docker_as(gateway, cli, "bob", "run", "--rm", *options, IMAGE, "true")
        assert refused.returncode == 125, refused.stderr
        assert "Error response from daemon" in refused.stderr
        entry = AuditEntry.objects.filter(username="bob", outcome=Outcome.DENIED).first()
        assert entry is not None and entry.action == "container.create" and entry.status_code == 403
        assert entry.detail.startswith(rule), entry.detail
        assert entry.host_name == UNIX_HOST and entry.entry_point == "gateway"
    # The engine's case-insensitive keys, sent raw: refused the same way.
    body = json.dumps({"image": IMAGE, "hostconfig": {"privileged": True}}).encode()
    path = f"/hosts/{UNIX_HOST}/v1.41/containers/create"
    status, _, reply = request(gateway, "POST", path, user="bob", body=body, **JSON)
    assert status == 403
    assert json.loads(reply)["rule"] == "no-privileged"


@pytest.fixture(scope="module")
def policy_world(gateway: Gateway, django_db_blocker: Any) -> Iterator[set[str]]:
    """The corpus's host (its policy settings) and objects, and ME (opal) as an operator there; yields the
    ids of the engine's containers before any escalation was tried."""
    engine = docker.APIClient(base_url=gateway.testbed.engine1.unix_url, version="1.41", timeout=60)
    with django_db_blocker.unblock():
        host = Host.objects.create(
            name=POLICY_HOST, url=gateway.testbed.engine1.unix_url, policy=SETTINGS.to_dict()
        )
        team = Team.objects.create(name=ME[1])
        user = User.objects.create_user(ME[0])
        team.members.add(user)
        Grant.objects.create(team=team, host=host, role=Role.OPERATOR)
        _, gateway.tokens[ME[0]] = ApiToken.issue(user, "gateway-policy")
    for name, owner in ((POLICY_MINE, ME), (POLICY_THEIRS, THEM)):
        config = apply_owner_labels({"Image": IMAGE, "Cmd": ["sleep", "600"]}, *owner)
        engine.create_container(config["Image"], config["Cmd"], name=name, labels=config["Labels"])
    engine.create_volume(OPT_VOLUME, driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    engine.create_network(USER_NETWORK)
    try:
        yield {c["Id"] for c in engine.containers(all=True)}
    finally:
        for name in (POLICY_MINE, POLICY_THEIRS):
            with contextlib.suppress(docker.errors.NotFound):
                engine.remove_container(name, force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            engine.remove_network(USER_NETWORK)
        with contextlib.suppress(docker.errors.NotFound):
            engine.remove_volume(OPT_VOLUME, force=True)
        engine.close()
        with django_db_blocker.unblock():
            Host.objects.filter(name=POLICY_HOST).delete()
            User.objects.filter(username=ME[0]).delete()
            Team.objects.filter(name=ME[1]).delete()
        shutil.rmtree(BIND_PREFIX, ignore_errors=True)


def _target(case: Case) -> str:
    path = case.path if case.path.startswith("/v") else "/v1.41" + case.path
    if case.path in ("/grpc", "/session"):
        return case.path  # BuildKit's calls come without the host prefix
    query = urlencode([(name, value) for name, values in case.query.items() for value in values])
    return f"/hosts/{POLICY_HOST}{path}" + (f"?{query}" if query else "")


@pytest.mark.parametrize("case", ESCALATIONS, ids=lambda case: case.name)
def test_the_policy_corpus_is_refused_through_the_gateway(
    gateway: Gateway, policy_world: set[str], case: Case
) -> None:
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    status, _, reply = request(gateway, case.method, _target(case), user=ME[0], body=case.raw, **headers)
    # 403: role or policy; 404: another team's object; 400: a path the gateway does not route; 413: too big.
    assert status in (400, 403, 404, 413), (status, reply[:300])
    payload = json.loads(reply)
    assert payload["message"]
    if status == 403 and "rule" in payload:
        assert (payload["rule"], payload["field"]) == (case.rule, case.field), payload


def test_no_escalation_reached_the_engine(policy_world: set[str], engine1: docker.DockerClient) -> None:
    assert {c.id for c in engine1.containers.list(all=True)} == policy_world


@pytest.fixture
def red_container(gateway: Gateway, cli: DockerCli, engine1: docker.DockerClient) -> Iterator[str]:
    """A running container carol (team red) started through the gateway."""
    started = docker_as(gateway, cli, "carol", "run", "-d", IMAGE, "sleep", "600")
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            engine1.containers.get(container).remove(force=True)


def test_owners_are_labelled_and_other_teams_cannot_touch_or_see_their_containers(
    gateway: Gateway, cli: DockerCli, engine1: docker.DockerClient, red_container: str
) -> None:
    labels = engine1.containers.get(red_container).labels
    assert (labels[OWNER_USER_LABEL], labels[OWNER_TEAM_LABEL]) == ("carol", "red")
    since = f"{time.time() - 5:.3f}"
    mine = docker_as(gateway, cli, "bob", "run", "-d", IMAGE, "sleep", "600").stdout.strip()
    try:
        bob_labels = engine1.containers.get(mine).labels
        assert (bob_labels[OWNER_USER_LABEL], bob_labels[OWNER_TEAM_LABEL]) == ("bob", "blue")
        for action in (
            ("stop", "-t", "1"),
            ("kill",),
            ("rm", "-f"),
            ("logs",),
            ("container", "inspect"),
            ("exec",),
        ):
            args = (*action, red_container, *(("true",) if action == ("exec",) else ()))
            refused = docker_as(gateway, cli, "bob", *args)  # `rm -f` exits 0 on a 404 (CLI 28)
            assert "No such container" in refused.stderr, (action, refused.stderr)
        assert engine1.containers.get(red_container).status == "running"
        listed = docker_as(
            gateway, cli, "bob", "ps", "-a", "--no-trunc", "--format", "{{.ID}}"
        ).stdout.split()
        assert mine in listed and red_container not in listed
        carol_sees = docker_as(
            gateway, cli, "carol", "ps", "--no-trunc", "--format", "{{.ID}}"
        ).stdout.split()
        assert red_container in carol_sees and mine not in carol_sees
        alice_sees = docker_as(
            gateway, cli, "alice", "ps", "--no-trunc", "--format", "{{.ID}}"
        ).stdout.split()
        assert {red_container, mine} <= set(alice_sees)
        until = f"{time.time() + 0.5:.3f}"
        time.sleep(0.6)
        events = ("events", "--since", since, "--until", until, "--format", "{{.Actor.ID}}")
        bob_events = set(docker_as(gateway, cli, "bob", *events).stdout.split())
        assert mine in bob_events and red_container not in bob_events
        assert {mine, red_container} <= set(docker_as(gateway, cli, "alice", *events).stdout.split())
        assert docker_as(gateway, cli, "carol", "stop", "-t", "1", red_container).returncode == 0
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            engine1.containers.get(mine).remove(force=True)


def test_other_teams_networks_and_volumes_are_hidden(gateway: Gateway, cli: DockerCli) -> None:
    docker_as(gateway, cli, "carol", "network", "create", "gw-red-net")
    docker_as(gateway, cli, "carol", "volume", "create", "gw-red-vol")
    try:
        for kind, name in (("network", "gw-red-net"), ("volume", "gw-red-vol")):
            listing = ("ls", "--format", "{{.Name}}")
            assert name not in docker_as(gateway, cli, "bob", kind, *listing).stdout.split()
            assert name in docker_as(gateway, cli, "carol", kind, *listing).stdout.split()
            assert f"No such {kind}" in docker_as(gateway, cli, "bob", kind, "rm", name).stderr
    finally:
        docker_as(gateway, cli, "carol", "network", "rm", "gw-red-net")
        docker_as(gateway, cli, "carol", "volume", "rm", "gw-red-vol")


def test_changes_exec_and_attach_are_audited_with_their_final_status(
    gateway: Gateway, cli: DockerCli, committed: None, tmp_path: Path
) -> None:
    started = time.time()
    assert docker_as(gateway, cli, "alice", "run", "--rm", IMAGE, "echo", "audited").stdout == "audited\n"
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo going to fail; exit 3\n")
    failed = docker_as(gateway, cli, "alice", "build", "--force-rm", "-t", "gw-fails:1", str(tmp_path))
    assert failed.returncode != 0 and "returned a non-zero code: 3" in failed.stderr + failed.stdout
    missing = docker_as(gateway, cli, "alice", "pull", f"{gateway.testbed.registry}/no-such-repo:1")
    assert missing.returncode != 0
    # A streamed call's row is written once its stream has ended, which the CLI need not wait for: the pull
    # exits on the error line. So the rows may land a moment after the commands returned.
    deadline = time.monotonic() + 10
    while True:
        entries = list(
            AuditEntry.objects.filter(username="alice", created_at__gte=_aware(started)).order_by(
                "started_at", "pk"
            )
        )
        actions = [entry.action for entry in entries]
        if {"image.build", "image.pull"} <= set(actions) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert actions[:3] == ["container.create", "container.attach", "container.start"], actions
    attach = entries[1]
    assert (attach.status_code, attach.outcome) == (101, Outcome.SUCCESS)
    create = entries[0]
    assert create.object_id and (create.request_body or {})["Image"] == IMAGE
    build = next(entry for entry in entries if entry.action == "image.build")
    assert build.status_code == 200 and build.outcome == Outcome.FAILURE  # the error came inside the 200
    assert "returned a non-zero code: 3" in build.detail and build.object_name == "gw-fails:1"
    pull = next(entry for entry in entries if entry.action == "image.pull")
    assert pull.outcome == Outcome.FAILURE and pull.detail
    for entry in entries:
        assert entry.entry_point == "gateway" and entry.token_name == "gateway-tests"
        assert entry.duration_ms is not None and entry.source_ip == "127.0.0.1"


def _aware(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
