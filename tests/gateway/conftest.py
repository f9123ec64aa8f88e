"""The gateway as `manage.py gateway` processes (plain TCP and TLS) over committed test data, and clients.

The gateway runs in its own process, so the rows it reads must be committed: they are created once for the
package outside pytest-django's per-test transaction, and removed at the end. The cast:

- alice: superuser, member of team red; her token's default host takes BuildKit calls.
- carol: operator through team red; bob: operator through team blue; victor: viewer; nadia: no grant.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import setup_databases, teardown_databases

from hosts.models import ApiToken, AuditEntry, EntryPoint, Grant, Host, Role, Team
from tests.conftest import worker_database_url
from tests.testbed import Testbed, pki
from tests.testbed.images import LOCAL_TAG
from tests.testbed.registry import free_port

IMAGE = LOCAL_TAG
UNIX_HOST = "gw-unix"  # engine1 over its unix socket
TLS_HOST = "gw-tls"  # engine2 over TCP with mutual TLS
USERS = ("alice", "bob", "carol", "victor", "nadia")
API_VERSION = "1.41"
START_TIMEOUT = 30.0


@dataclass
class Listener:
    """One `manage.py gateway` process."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, host: str = UNIX_HOST) -> str:
        return f"tcp://127.0.0.1:{self.port}/hosts/{host}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Gateway:
    """The gateway processes, the users' tokens, and files clients need."""

    testbed: Testbed
    plain: Listener
    tls: Listener
    tokens: dict[str, str]
    client_tls_dir: Path  # ca.pem, cert.pem, key.pem for the TLS listener (docker's DOCKER_CERT_PATH)
    workdir: Path
    configs: dict[str, Path] = field(default_factory=dict)

    def docker_config(self, user: str | None) -> Path:
        """A DOCKER_CONFIG directory whose config.json sends `user`'s token (none for None)."""
        key = user or "-"
        if key not in self.configs:
            directory = self.workdir / f"docker-config-{key}"
            directory.mkdir(parents=True, exist_ok=True)
            config: dict[str, Any] = {}
            if user is not None:
                config["HttpHeaders"] = {"Authorization": f"Bearer {self.tokens[user]}"}
            (directory / "config.json").write_text(json.dumps(config))
            self.configs[key] = directory
        return self.configs[key]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def sdk(self, user: str, host: str = UNIX_HOST, *, version: str = API_VERSION) -> docker.DockerClient:
        """A docker SDK client through the plain listener, sending `user`'s token on every call."""
        os.environ["DOCKER_CONFIG"] = str(self.docker_config(user))  # read by the constructor's probe
        try:
            client = docker.DockerClient(base_url=self.plain.url(host), version=version, timeout=60)
        finally:
            os.environ.pop("DOCKER_CONFIG", None)
        client.api.trust_env = False
        client.api.headers.update(self.headers(user))  # attach_socket ignores config.json HttpHeaders
        return client


def _make_world(testbed: Testbed) -> dict[str, str]:
    tls = testbed.engine2.client_tls
    unix = Host.objects.create(name=UNIX_HOST, url=testbed.engine1.unix_url)
    Host.objects.create(
        name=TLS_HOST,
        url=testbed.engine2.tls_url,
        tls_ca=tls.ca_pem,
        tls_cert=tls.cert_pem,
        tls_key=tls.key_pem,
    )
    users = {name: User.objects.create_user(name, f"{name}@example.com") for name in USERS}
    users["alice"].is_superuser = users["alice"].is_staff = True
    users["alice"].save()
    red, blue = Team.objects.create(name="red"), Team.objects.create(name="blue")
    red.members.add(users["alice"], users["carol"])
    blue.members.add(users["bob"])
    Grant.objects.create(team=red, host=unix, role=Role.OPERATOR)
    Grant.objects.create(team=blue, host=unix, role=Role.OPERATOR)
    Grant.objects.create(user=users["victor"], host=unix, role=Role.VIEWER)
    tokens = {}
    for name, user in users.items():
        token, tokens[name] = ApiToken.issue(user, "gateway-tests")
        if name == "alice":
            token.default_host = unix
            token.save()
    return tokens


def _remove_world() -> None:
    Host.objects.filter(name__in=[UNIX_HOST, TLS_HOST]).delete()
    User.objects.filter(username__in=USERS).delete()
    Team.objects.filter(name__in=["red", "blue"]).delete()
    # The audit log is append-only for the application; the rows these tests caused go with plain SQL.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE entry_point = %s", [EntryPoint.GATEWAY])  # noqa: S608


def _wait_listening(listener: Listener) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if listener.process.poll() is not None:
            pytest.fail(
                f"manage.py gateway exited with {listener.process.returncode}:\n{listener.log_tail()}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", listener.port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    pytest.fail(f"manage.py gateway did not listen within {START_TIMEOUT:g}s:\n{listener.log_tail()}")


def start_gateway(workdir: Path, name: str, env: dict[str, str]) -> Listener:
    """`manage.py gateway` on a free port with `env` on top of ours (and the test database)."""
    port = free_port()
    log = workdir / f"gateway-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "gateway", "--address", f"127.0.0.1:{port}"],
            cwd=Path(settings.BASE_DIR),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listener = Listener(port, process, log)
    try:
        _wait_listening(listener)
    except BaseException:
        stop_gateway(listener)
        raise
    return listener


def stop_gateway(listener: Listener) -> None:
    """SIGTERM, as a supervisor would; the command must exit cleanly."""
    listener.process.terminate()
    try:
        listener.process.wait(15)
    except subprocess.TimeoutExpired:
        listener.process.kill()
        listener.process.wait()


def _tls_files(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    ca = pki.make_ca("dockerweb gateway test CA")
    server, client = pki.issue_server(ca), pki.issue_client(ca)
    path = str(directory)
    pki.write_pem(path, "ca.pem", ca.cert_pem)
    pki.write_pem(path, "cert.pem", client.cert_pem)
    pki.write_pem(path, "key.pem", client.key_pem, private=True)
    return {
        "DOCKERWEB_GATEWAY_TLS_CERT": pki.write_pem(path, "server.pem", server.cert_pem),
        "DOCKERWEB_GATEWAY_TLS_KEY": pki.write_pem(path, "server-key.pem", server.key_pem, private=True),
        "DOCKERWEB_GATEWAY_TLS_CLIENT_CA": str(directory / "ca.pem"),
    }


_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]  # before pytest-django swaps in the test one


@pytest.fixture(scope="package")
def test_database(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The test database, even when no selected test asked pytest-django for `db` (it creates the test
    database only for those): these tests share committed rows instead of per-test transactions."""
    if connection.settings_dict["NAME"] != _CONFIGURED_DATABASE:
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})  # type: ignore[arg-type]
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)


@pytest.fixture(scope="package")
def gateway(
    testbed: Testbed, test_database: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Both listeners over committed users, teams, grants, tokens and the two testbed hosts."""
    workdir = tmp_path_factory.mktemp("gateway")
    tls_dir = workdir / "client-tls"
    tls_env = _tls_files(tls_dir)
    with django_db_blocker.unblock():
        _remove_world()  # leftovers of an interrupted run
        tokens = _make_world(testbed)
        env = {"DATABASE_URL": worker_database_url(), "DJANGO_SETTINGS_MODULE": "dockerweb.settings"}
    listeners: list[Listener] = []
    try:
        listeners.append(start_gateway(workdir, "plain", env))
        listeners.append(start_gateway(workdir, "tls", {**env, **tls_env}))
        yield Gateway(testbed, listeners[0], listeners[1], tokens, tls_dir, workdir)
    finally:
        for listener in listeners:
            stop_gateway(listener)
        with django_db_blocker.unblock():
            _remove_world()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def committed(test_database: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access outside a transaction, to read what the gateway process committed."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="package")
def engine1(testbed: Testbed) -> Iterator[docker.DockerClient]:
    """A direct SDK client to engine1 (the gw-unix host), for setup and for comparing answers."""
    client = docker.DockerClient(base_url=testbed.engine1.unix_url, version=API_VERSION, timeout=60)
    try:
        yield client
    finally:
        client.close()
