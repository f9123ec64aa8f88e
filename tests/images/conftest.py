"""Fixtures of the images tests: the images API and websocket routes mounted, people with roles on a host,
the testbed registry known to dockerweb, engine clients, and job waiting."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import Grant, Host, Role, Team
from images.models import FINISHED, Job, Registry
from tests.testbed import Testbed

IMAGE = "dwtest/busybox:latest"


@dataclass
class People:
    users: dict[str, User]
    clients: dict[str, APIClient]

    def __getitem__(self, name: str) -> APIClient:
        return self.clients[name]


@pytest.fixture
def people(unix_host: Host, alice: User, client_for: Callable[[User | None], APIClient]) -> People:
    """dave (team red, operator), erin (team blue, operator), carol (viewer), alice (superuser)."""
    red, blue = Team.objects.create(name="red"), Team.objects.create(name="blue")
    users = {name: User.objects.create_user(name) for name in ("dave", "erin", "carol")}
    red.members.add(users["dave"])
    blue.members.add(users["erin"])
    Grant.objects.create(team=red, host=unix_host, role=Role.OPERATOR)
    Grant.objects.create(team=blue, host=unix_host, role=Role.OPERATOR)
    Grant.objects.create(user=users["carol"], host=unix_host, role=Role.VIEWER)
    users["alice"] = alice
    return People(users, {name: client_for(user) for name, user in users.items()})


@pytest.fixture
def testbed_registry(testbed: Testbed, alice: User) -> Registry:
    """The testbed registry (no auth), open to everyone."""
    return Registry.objects.create(
        name="testbed", url=testbed.registry_url, server=testbed.registry, created_by=alice
    )


@pytest.fixture(scope="session")
def engine1(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine1.unix_url, version="1.41", timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine2(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine2.unix_url, version="1.41", timeout=60)
    yield client
    client.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


@pytest.fixture
def cleanup_images(engine1: docker.DockerClient, engine2: docker.DockerClient) -> Iterator[list[str]]:
    """Image references removed from both engines at the end of the test."""
    refs: list[str] = []
    yield refs
    for client in (engine1, engine2):
        for ref in refs:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.images.remove(ref, force=True)


@pytest.fixture
def cleanup_containers(engine1: docker.DockerClient) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            engine1.containers.get(name).remove(force=True)


def wait_job(job_id: Any, *statuses: str, timeout: float = 30.0) -> Job:
    """The job once its status is one of `statuses` (default: any finished one)."""
    wanted = set(statuses) or set(FINISHED)
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.select_related("host", "user").get(pk=job_id)
        if job.status in wanted:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job_id} is {job.status}, not {sorted(wanted)}: {job.error or job.progress}"
            )
        time.sleep(0.1)


def started(response: Any) -> str:
    """The id of the job a 202 response started."""
    assert response.status_code == 202, response.json()
    return str(response.json()["id"])


def post_bytes(client: APIClient, url: str, body: bytes, content_type: str = "application/x-tar") -> Any:
    """POST a raw body (an archive upload)."""
    return client.generic("POST", url, body, content_type=content_type)  # type: ignore[arg-type]
