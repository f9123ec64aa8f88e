"""The containers REST API against the real engines: roles, ownership, the policy, lifecycle, logs, files."""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import AuditEntry, Grant, Host, Role, Team
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine1(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine1.unix_url)
    yield client
    client.close()


@pytest.fixture
def names(engine1: docker.DockerClient) -> Iterator[Callable[[], str]]:
    """Unique container names; every container so named is removed at the end."""
    made: list[str] = []

    def make() -> str:
        made.append(f"t-{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield make
    for name in made:
        with contextlib.suppress(docker.errors.NotFound):
            engine1.containers.get(name).remove(force=True)


@pytest.fixture
def host(testbed: Testbed) -> Host:
    return Host.objects.create(name="one", url=testbed.engine1.unix_url)


@pytest.fixture
def people(host: Host, client_for: Callable[[User | None], APIClient]) -> dict[str, APIClient]:
    red, blue = Team.objects.create(name="red"), Team.objects.create(name="blue")
    users = {name: User.objects.create_user(name) for name in ("dave", "erin", "carol")}
    red.members.add(users["dave"])
    blue.members.add(users["erin"])
    Grant.objects.create(team=red, host=host, role=Role.OPERATOR)
    Grant.objects.create(team=blue, host=host, role=Role.OPERATOR)
    Grant.objects.create(user=users["carol"], host=host, role=Role.VIEWER)
    return {name: client_for(user) for name, user in users.items()}


def run(client: APIClient, host: Host, body: dict[str, object]) -> dict[str, object]:
    response = client.post(f"/api/v1/hosts/{host.pk}/containers/run/", body, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


def test_an_operator_runs_a_container_that_carries_their_owner_labels(
    testbed: Testbed, host: Host, people: dict[str, APIClient], names: Callable[[], str]
) -> None:
    name = names()
    body = {
        "image": testbed.images[0],
        "name": name,
        "command": "sh -c 'echo ready; sleep 300'",
        "env": {"MODE": "test", "DB_PASSWORD": "hunter2"},
        "ports": [{"container_port": 80, "host_port": 0}],
        "labels": {"app": "web", "dockerweb.owner.user": "mallory"},
        "restart_policy": "unless-stopped",
        "memory": 64 * 1024 * 1024,
    }
    # Owner labels are dockerweb's: one sent by a caller is refused (403, naming the rule), not rewritten.
    planted = people["dave"].post(f"/api/v1/hosts/{host.pk}/containers/run/", body, format="json")
    assert planted.status_code == 403 and planted.json()["rule"] == "owner-label", planted.content
    body["labels"] = {"app": "web"}
    details = run(people["dave"], host, body)
    assert details["State"]["Running"] is True  # type: ignore[index]
    labels = details["Config"]["Labels"]  # type: ignore[index]
    assert labels["dockerweb.owner.user"] == "dave" and labels["dockerweb.owner.team"] == "red"
    assert labels["app"] == "web"
    assert details["HostConfig"]["Memory"] == 64 * 1024 * 1024  # type: ignore[index]
    assert "DB_PASSWORD=hunter2" in details["Config"]["Env"]  # type: ignore[index]

    listed = people["dave"].get(f"/api/v1/containers/?host={host.pk}&name={name}").json()
    assert [item["name"] for item in listed["results"]] == [name] and listed["errors"] == []
    assert listed["results"][0]["owner"] == "red"
    # Another team sees nothing of it, and cannot act on it.
    assert people["erin"].get(f"/api/v1/containers/?name={name}").json()["results"] == []
    refused = people["erin"].post(f"/api/v1/hosts/{host.pk}/containers/{name}/stop/")
    assert refused.status_code == 404
    assert AuditEntry.objects.filter(username="erin", outcome="denied").exists()
    # The audit rows of the runs (the refused one first) hide the secret environment value.
    entries = AuditEntry.objects.filter(username="dave", action="container.run").order_by("started_at")
    assert [entry.outcome for entry in entries] == ["denied", "success"]
    assert all("hunter2" not in str(entry.request_body) for entry in entries)


def test_viewers_see_shared_containers_without_environment_values(
    testbed: Testbed,
    host: Host,
    people: dict[str, APIClient],
    engine1: docker.DockerClient,
    names: Callable[[], str],
) -> None:
    name = names()
    engine1.containers.create(testbed.images[0], ["sleep", "300"], name=name, environment={"TOKEN": "s3cret"})
    inspect = f"/api/v1/hosts/{host.pk}/containers/{name}/"
    assert people["carol"].get(inspect).status_code == 404, "unowned objects are private by default"
    Host.objects.filter(pk=host.pk).update(unowned_access=True)
    env = people["carol"].get(inspect).json()["Config"]["Env"]
    assert "TOKEN=[hidden]" in env and not any("s3cret" in entry for entry in env)
    assert "TOKEN=s3cret" in people["dave"].get(inspect).json()["Config"]["Env"]
    denied = people["carol"].post(f"{inspect}start/")
    assert denied.status_code == 403 and "operate needs operator" in denied.json()["detail"]


def test_the_policy_refuses_escalations_naming_rule_and_field(
    testbed: Testbed, host: Host, people: dict[str, APIClient], names: Callable[[], str]
) -> None:
    url = f"/api/v1/hosts/{host.pk}/containers/"
    attempts: list[tuple[dict[str, Any], str]] = [
        (
            {"image": testbed.images[0], "engine_body": {"HostConfig": {"Privileged": True}}},
            "HostConfig.Privileged",
        ),
        (
            {"image": testbed.images[0], "engine_body": {"hostconfig": {"privileged": True}}},
            "HostConfig.Privileged",
        ),
        (
            {"image": testbed.images[0], "volumes": [{"volume": "/", "target": "/host"}]},
            "HostConfig.Binds[0]",
        ),
        ({"image": testbed.images[0], "network": "host"}, "HostConfig.NetworkMode"),
    ]
    for body, field in attempts:
        response = people["dave"].post(url, {**body, "name": names()}, format="json")
        assert response.status_code == 403, response.json()
        assert response.json()["code"] == "policy_denied" and response.json()["field"] == field, (
            response.json()
        )
    assert AuditEntry.objects.filter(username="dave", outcome="denied").count() == len(attempts)


def test_lifecycle_logs_and_files(
    testbed: Testbed,
    host: Host,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    names: Callable[[], str],
) -> None:
    api = client_for(alice)
    name = names()
    script = "echo out-1; echo err-1 >&2; echo out-2; while true; do sleep 1; done"
    run(api, host, {"image": testbed.images[0], "name": name, "command": ["sh", "-c", script]})
    base = f"/api/v1/hosts/{host.pk}/containers/{name}"

    def state() -> str:
        return str(api.get(f"{base}/").json()["State"]["Status"])

    for verb, expected in [
        ("pause", "paused"),
        ("unpause", "running"),
        ("stop?t=1", "exited"),
        ("start", "running"),
    ]:
        assert (
            api.post(
                f"{base}/{verb}/" if "?" not in verb else f"{base}/{verb.replace('?', '/?')}"
            ).status_code
            == 200
        )
        assert state() == expected
    assert api.post(f"{base}/kill/?signal=SIGKILL").status_code == 200 and state() == "exited"
    assert api.post(f"{base}/restart/?t=1").status_code == 200 and state() == "running"

    logs = b"".join(api.get(f"{base}/logs/?stderr=false").streaming_content)  # type: ignore[attr-defined]
    assert b"out-1" in logs and b"err-1" not in logs
    # The container ran three times (start, restart): three rounds of output; tail counts both streams.
    errors = b"".join(api.get(f"{base}/logs/?stdout=false&tail=6").streaming_content)  # type: ignore[attr-defined]
    assert errors.split() == [b"err-1", b"err-1"]
    assert "PID" in str(api.get(f"{base}/top/").json())

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = b"hello from the api\n"
        info = tarfile.TarInfo("greeting.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    put = api.put(f"{base}/archive/?path=/", archive.getvalue(), content_type="application/x-tar")
    assert put.status_code == 200, put.content
    got = api.get(f"{base}/archive/?path=/greeting.txt")
    content = b"".join(got.streaming_content)  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        member = tar.extractfile("greeting.txt")
        assert member is not None and member.read() == b"hello from the api\n"
    assert any(change["Path"] == "/greeting.txt" for change in api.get(f"{base}/changes/").json())

    assert api.post(f"{base}/rename/", {"name": name + "-x"}, format="json").status_code == 200
    assert api.delete(f"/api/v1/hosts/{host.pk}/containers/{name}-x/").status_code == 409
    assert api.delete(f"/api/v1/hosts/{host.pk}/containers/{name}-x/?force=true").status_code == 204
    missing = api.get(f"/api/v1/hosts/{host.pk}/containers/{name}-x/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    missing_logs = api.get(f"/api/v1/hosts/{host.pk}/containers/{name}-x/logs/")
    assert missing_logs.status_code == 404 and missing_logs.json()["code"] == "not_found"


def test_the_list_spans_hosts_and_reports_a_down_host(
    testbed: Testbed,
    host: Host,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    names: Callable[[], str],
) -> None:
    tls = testbed.engine2.client_tls
    other = Host.objects.create(
        name="two", url=testbed.engine2.tls_url, tls_ca=tls.ca_pem, tls_cert=tls.cert_pem, tls_key=tls.key_pem
    )
    Host.objects.create(name="gone", url="tcp://127.0.0.1:1")
    api = client_for(alice)
    first, second = names(), f"t-{uuid.uuid4().hex[:10]}"
    run(api, host, {"image": testbed.images[0], "name": first, "command": ["sleep", "300"]})
    run(api, other, {"image": testbed.images[0], "name": second, "command": ["sleep", "300"]})
    try:
        listing = api.get("/api/v1/containers/?status=running").json()
        seen = {(item["host_name"], item["name"]) for item in listing["results"]}
        assert {("one", first), ("two", second)} <= seen
        assert [(e["host_name"], "refused" in e["detail"]) for e in listing["errors"]] == [("gone", True)]
    finally:
        api.delete(f"/api/v1/hosts/{other.pk}/containers/{second}/?force=true")


def test_bulk_actions_report_each_result(
    testbed: Testbed, host: Host, people: dict[str, APIClient], names: Callable[[], str]
) -> None:
    # `sleep` as PID 1 ignores SIGTERM: each stop waits out its 3 s StopTimeout, 12 s one after the other.
    slow = {"command": ["sleep", "300"], "engine_body": {"StopTimeout": 3}}
    mine = [names() for _ in range(4)]
    for name in mine:
        run(people["dave"], host, {"image": testbed.images[0], "name": name, **slow})
    theirs = names()
    run(people["erin"], host, {"image": testbed.images[0], "name": theirs, **slow})
    items = [{"host": host.pk, "id": name} for name in [*mine, theirs, "no-such-container"]]
    started = time.monotonic()
    response = people["dave"].post(
        "/api/v1/containers/bulk/", {"action": "stop", "containers": items}, format="json"
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [item["id"] for item in items]
    results = {item["id"]: item for item in response.json()["results"]}
    assert all(results[name]["ok"] for name in mine)
    assert not results[theirs]["ok"] and not results["no-such-container"]["ok"]
    assert "No such container" in results["no-such-container"]["detail"]
    assert response.json()["failed"] == 2
    assert elapsed < 9, f"the stops ran one after the other ({elapsed:.1f} s)"


def test_prune_is_for_host_admins_and_bad_input_is_named(
    testbed: Testbed,
    host: Host,
    people: dict[str, APIClient],
    alice: User,
    client_for: Callable[[User | None], APIClient],
) -> None:
    assert people["dave"].post(f"/api/v1/hosts/{host.pk}/containers/prune/").status_code == 403
    assert "ContainersDeleted" in client_for(alice).post(f"/api/v1/hosts/{host.pk}/containers/prune/").json()
    missing_image = people["dave"].post(f"/api/v1/hosts/{host.pk}/containers/", {"name": "x"}, format="json")
    assert missing_image.status_code == 400 and "image" in missing_image.json()["fields"]
    bad_port = people["dave"].post(
        f"/api/v1/hosts/{host.pk}/containers/",
        {"image": "x", "ports": [{"container_port": 0}]},
        format="json",
    )
    assert bad_port.status_code == 400 and "ports" in bad_port.json()["fields"]
    assert people["dave"].get("/api/v1/hosts/999999/containers/x/").status_code == 404


def test_the_list_costs_the_same_queries_for_3_or_12_containers(
    testbed: Testbed,
    host: Host,
    people: dict[str, APIClient],
    engine1: docker.DockerClient,
    names: Callable[[], str],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hosts.access import OWNER_TEAM_LABEL, OWNER_USER_LABEL

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = people["dave"].get(f"/api/v1/containers/?host={host.pk}&label=qcount")
        assert response.status_code == 200
        return len(captured.captured_queries)

    count_queries()  # the token's first use records last_used_at: one write, once
    labels = {OWNER_USER_LABEL: "dave", OWNER_TEAM_LABEL: "red", "qcount": "1"}
    for _ in range(3):
        engine1.containers.create(testbed.images[0], ["true"], name=names(), labels=labels)
    few = count_queries()
    for _ in range(9):
        engine1.containers.create(testbed.images[0], ["true"], name=names(), labels=labels)
    assert count_queries() == few
    assert len(people["dave"].get("/api/v1/containers/?label=qcount").json()["results"]) == 12
