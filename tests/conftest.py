"""Fixtures shared by the suite: the real engine testbed, users with different access, API clients, a
real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.engine.tls import TLSMaterial
from hosts.models import ApiToken, Host
from tests.testbed import Engine, Testbed, start_testbed, stop_testbed, testbed_unavailable_reason

REQUIRE_ENGINE = os.environ.get("DOCKERWEB_REQUIRE_ENGINE") == "1"


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """Two private dockerd engines (unix + TCP/TLS) and a registry, for the whole session."""
    reason = testbed_unavailable_reason()
    if reason:
        if REQUIRE_ENGINE:
            pytest.fail(f"DOCKERWEB_REQUIRE_ENGINE=1 but the engine testbed cannot start: {reason}")
        pytest.skip(f"real Docker engine tests need root and dockerd: {reason}")
    bed = start_testbed()
    try:
        yield bed
    finally:
        stop_testbed(bed)


def tls_material(engine: Engine, *, ca: str | None = None) -> TLSMaterial:
    tls = engine.client_tls
    return TLSMaterial(ca=tls.ca_pem if ca is None else ca, cert=tls.cert_pem, key=tls.key_pem)


@pytest.fixture
def alice(db: None) -> User:
    """An administrator (superuser)."""
    return User.objects.create_superuser("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(db: None) -> User:
    """A user with no grants."""
    return User.objects.create_user("bob", "bob@example.com", "bob-password-1")


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    """An API client authenticated with a real bearer token of `user` (anonymous for None)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            _, plaintext = ApiToken.issue(user, f"test-{ApiToken.objects.count()}")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        return client

    return make


@pytest.fixture
def unix_host(testbed: Testbed, alice: User) -> Host:
    """engine1 over its unix socket, registered without probing."""
    return Host.objects.create(name="engine1-unix", url=testbed.engine1.unix_url, created_by=alice)


@pytest.fixture
def tls_host(testbed: Testbed, alice: User) -> Host:
    """engine2 over TCP with mutual TLS, registered without probing."""
    tls = testbed.engine2.client_tls
    return Host.objects.create(
        name="engine2-tls",
        url=testbed.engine2.tls_url,
        tls_ca=tls.ca_pem,
        tls_cert=tls.cert_pem,
        tls_key=tls.key_pem,
        created_by=alice,
    )


def worker_database_url() -> str:
    """The URL of the test database the suite created, for a worker in another process."""
    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return (
        f"postgres://{auth}{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{config['NAME']}"
    )


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A real Celery worker process (threads pool, like `make run`) on this run's queue and test DB."""
    with django_db_blocker.unblock():
        database_url = worker_database_url()
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "dockerweb.settings"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dockerweb", "worker",
             "--pool", "threads", "--concurrency", "8",
             "--loglevel", "INFO", "-n", f"test-{os.getpid()}@%h", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE],
            cwd=Path(settings.BASE_DIR), env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_worker(process, log_path)
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_worker(process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Celery worker exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if " ready." in log_path.read_text():
            return
        time.sleep(0.2)
    pytest.fail(f"Celery worker not ready within {timeout:g}s:\n{log_path.read_text()[-3000:]}")


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
