"""TLS client certificates issued by dockerweb as the gateway identity: the real docker CLIs and the SDK
with only a certificate (no token), roles and limits, revocation, expiry, foreign CAs, the audit log, the
`issuecert` command and the REST endpoints."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts import client_certs
from hosts.models import ApiToken, AuditEntry, ClientCertificate, EntryPoint, Role
from tests.conftest import worker_database_url
from tests.gateway.clis import DockerCli, find_docker_clis
from tests.gateway.conftest import API_VERSION, IMAGE, TLS_HOST, UNIX_HOST, Gateway
from tests.testbed import pki

CLIS = find_docker_clis()
needs_cli = pytest.mark.skipif(not CLIS, reason="no docker CLI on this machine (Debian package docker.io)")
# The gateway re-reads a certificate's row this often (DOCKERWEB_GATEWAY_AUTH_CACHE_SECONDS, default 2).
RECHECK = settings.GATEWAY_AUTH_CACHE_SECONDS


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _server_ca(gateway: Gateway) -> Path:
    """The CA that signed the TLS listener's certificate (the fixture's test CA)."""
    return gateway.client_tls_dir / "ca.pem"


def _tls_env(gateway: Gateway) -> dict[str, str]:
    """The TLS listener's settings, as the gateway process got them."""
    directory = gateway.client_tls_dir
    return {
        "DOCKERWEB_GATEWAY_TLS_CERT": str(directory / "server.pem"),
        "DOCKERWEB_GATEWAY_TLS_KEY": str(directory / "server-key.pem"),
        "DOCKERWEB_GATEWAY_TLS_CLIENT_CA": str(directory / "ca.pem"),
    }


def issuecert(gateway: Gateway, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`manage.py issuecert ARGS` in a process of its own, on the test database, with the gateway's TLS
    settings."""
    env = {
        **os.environ,
        **_tls_env(gateway),
        "DATABASE_URL": worker_database_url(),
        "DJANGO_SETTINGS_MODULE": "dockerweb.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "issuecert", *args],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"issuecert {args} exited {result.returncode}: {result.stdout}\n{result.stderr}")
    return result


def issued_dir(gateway: Gateway, tmp_path: Path, user: str, **options: Any) -> tuple[Path, ClientCertificate]:
    """A DOCKER_CERT_PATH for a certificate issued in this process (needs `committed`)."""
    issued = client_certs.issue(User.objects.get(username=user), _fresh("t"), **options)
    directory = tmp_path / issued.row.name
    client_certs.write_cert_path(issued, directory)
    (directory / "ca.pem").write_text(_server_ca(gateway).read_text())
    return directory, issued.row


def cert_env(directory: Path) -> dict[str, str]:
    return {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(directory)}


def docker_with_cert(
    gateway: Gateway,
    cli: DockerCli,
    directory: Path,
    *args: str,
    user: str | None = None,
    host: str = UNIX_HOST,
) -> subprocess.CompletedProcess[str]:
    """`docker ARGS` at the TLS listener with the certificate in `directory` (and `user`'s token if given)."""
    return cli.run(
        *args,
        docker_host=gateway.tls.url(host),
        config=gateway.docker_config(user) if user is not None else None,
        env=cert_env(directory),
        check=False,
    )


def sdk_with_cert(gateway: Gateway, directory: Path, host: str = UNIX_HOST) -> docker.DockerClient:
    tls = docker.tls.TLSConfig(
        client_cert=(str(directory / "cert.pem"), str(directory / "key.pem")),
        ca_cert=str(directory / "ca.pem"),
        verify=True,
    )
    client = docker.DockerClient(base_url=gateway.tls.url(host), tls=tls, version=API_VERSION, timeout=60)
    client.api.trust_env = False  # requests would swap our CA for REQUESTS_CA_BUNDLE
    return client


def raw_tls_request(gateway: Gateway, directory: Path, path: str) -> tuple[bytes, str]:
    """GET `path` on a fresh TLS connection with the certificate in `directory`: (response head line and
    body, or b"" and the TLS error)."""
    context = ssl.create_default_context(cafile=str(_server_ca(gateway)))
    context.load_cert_chain(str(directory / "cert.pem"), str(directory / "key.pem"))
    try:
        with (
            socket.create_connection(("127.0.0.1", gateway.tls.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            return data, ""
    except (ssl.SSLError, ConnectionError) as exc:
        return b"", str(exc)


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


# The real docker CLIs with a certificate and no token.


@needs_cli
@pytest.mark.parametrize("cli", CLIS, ids=[cli.label for cli in CLIS])
def test_the_cli_works_with_a_certificate_from_issuecert_and_no_token(
    gateway: Gateway, cli: DockerCli, committed: None, tmp_path: Path
) -> None:
    name = _fresh("laptop")
    out = tmp_path / "certs"
    printed = issuecert(gateway, "carol", "--out", str(out), "--name", name).stdout
    assert {p.name for p in out.iterdir()} == {"ca.pem", "cert.pem", "key.pem"}
    assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
    # ca.pem verifies the gateway: found from the gateway's own TLS settings.
    assert (out / "ca.pem").read_text() == _server_ca(gateway).read_text()
    row = ClientCertificate.objects.get(user__username="carol", name=name)
    assert row.fingerprint in printed and row.serial in printed
    assert "PRIVATE KEY" not in printed

    version = docker_with_cert(gateway, cli, out, "version", "--format", "{{.Server.APIVersion}}")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == API_VERSION
    assert docker_with_cert(gateway, cli, out, "ps").returncode == 0
    ran = docker_with_cert(gateway, cli, out, "run", "--rm", IMAGE, "echo", "hi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi\n"
    # The same with flags instead of the environment.
    flags = cli.run(
        "--tlsverify",
        f"--tlscacert={out / 'ca.pem'}",
        f"--tlscert={out / 'cert.pem'}",
        f"--tlskey={out / 'key.pem'}",
        "ps",
        "-a",
        docker_host=gateway.tls.url(),
        check=False,
    )
    assert flags.returncode == 0, flags.stderr

    # The audit log names the user and the certificate.
    created = AuditEntry.objects.filter(
        entry_point=EntryPoint.GATEWAY, action="container.create", token_name=f"certificate {name}"
    )
    assert created.exists()
    assert {entry.username for entry in created} == {"carol"}
    row.refresh_from_db()
    assert row.last_used_at is not None


@needs_cli
def test_a_certificate_covers_hijacked_calls_and_tls_engines(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    directory, _ = issued_dir(gateway, tmp_path, "alice")
    cli = CLIS[-1]
    ran = cli.run(
        "run", "--rm", "-i", IMAGE, "sh", "-c", "cat; echo after-eof",
        docker_host=gateway.tls.url(TLS_HOST), env=cert_env(directory), stdin=b"stdin-with-cert\n",
    )  # fmt: skip
    assert ran.stdout == "stdin-with-cert\nafter-eof\n"


def test_the_sdk_works_with_a_certificate_and_no_token(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    directory, _ = issued_dir(gateway, tmp_path, "carol")
    client = sdk_with_cert(gateway, directory)
    try:
        assert client.version()["ApiVersion"] == API_VERSION
        client.containers.list(all=True)
        assert client.containers.run(IMAGE, ["echo", "sdk-cert"], remove=True) == b"sdk-cert\n"
        container = client.containers.run(IMAGE, ["sleep", "30"], detach=True)
        try:
            assert container.exec_run(["echo", "exec-cert"]).output == b"exec-cert\n"
        finally:
            container.remove(force=True)
    finally:
        client.close()


@needs_cli
def test_a_viewers_certificate_cannot_create_containers(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    cli = CLIS[-1]
    directory, _ = issued_dir(gateway, tmp_path, "victor")
    assert docker_with_cert(gateway, cli, directory, "ps").returncode == 0
    refused = docker_with_cert(gateway, cli, directory, "run", "--rm", IMAGE, "true")
    assert refused.returncode == 125
    assert "is viewer" in refused.stderr and "needs operator" in refused.stderr
    denied = AuditEntry.objects.filter(entry_point=EntryPoint.GATEWAY, username="victor", outcome="denied")
    assert denied.filter(token_name=f"certificate {directory.name}").exists()


@needs_cli
def test_a_certificate_carries_its_limits(gateway: Gateway, committed: None, tmp_path: Path) -> None:
    cli = CLIS[-1]
    capped, _ = issued_dir(gateway, tmp_path, "carol", max_role=Role.VIEWER)
    refused = docker_with_cert(gateway, cli, capped, "run", "--rm", IMAGE, "true")
    assert refused.returncode == 125
    assert "limited to that role" in refused.stderr
    scoped, _ = issued_dir(gateway, tmp_path, "alice", scope_hosts=["staging-*"])
    hidden = docker_with_cert(gateway, cli, scoped, "ps")
    assert hidden.returncode != 0
    assert f"No host '{UNIX_HOST}' is visible to you" in hidden.stderr


@needs_cli
def test_a_token_still_decides_when_sent_with_a_certificate(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    cli = CLIS[-1]
    directory, _ = issued_dir(gateway, tmp_path, "victor")
    ran = docker_with_cert(gateway, cli, directory, "run", "--rm", IMAGE, "echo", "as-alice", user="alice")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "as-alice\n"


# Refusals: revoked, expired, unknown, foreign.


@needs_cli
def test_a_revoked_certificate_is_refused_within_seconds_even_on_an_open_connection(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    cli = CLIS[-1]
    directory, row = issued_dir(gateway, tmp_path, "carol")
    client = sdk_with_cert(gateway, directory)
    try:
        client.containers.list()  # the connection stays open in the SDK's pool
        api = APIClient()
        api.force_authenticate(User.objects.get(username="carol"))
        revoked = api.post(f"/api/v1/certificates/{row.pk}/revoke/")
        assert revoked.status_code == 200, revoked.content
        assert revoked.json()["revoked"] is True

        def refused() -> bool:
            try:
                client.containers.list()
            except docker.errors.APIError as exc:
                assert exc.status_code == 401
                assert "was revoked" in str(exc)
                return True
            return False

        started = time.monotonic()
        assert wait_for(refused, RECHECK + 5)
        assert time.monotonic() - started < RECHECK + 5
    finally:
        client.close()
    result = docker_with_cert(gateway, cli, directory, "ps")
    assert result.returncode != 0
    assert "was revoked" in result.stderr and "issuecert" in result.stderr


@needs_cli
def test_an_expired_certificate_is_refused(gateway: Gateway, committed: None, tmp_path: Path) -> None:
    cli = CLIS[-1]
    # Past its X.509 validity: the TLS handshake itself refuses it, with an alert the client names.
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    old, _ = issued_dir(gateway, tmp_path, "carol", not_before=long_ago, valid_for=dt.timedelta(days=1))
    result = docker_with_cert(gateway, cli, old, "ps")
    assert result.returncode != 0
    assert "expired certificate" in result.stderr, result.stderr
    _, error = raw_tls_request(gateway, old, f"/hosts/{UNIX_HOST}/_ping")
    assert "CERTIFICATE_EXPIRED" in error.upper().replace(" ", "_"), error
    # Expired in dockerweb's books (the row) while the certificate is still valid: a 401 that says so.
    directory, row = issued_dir(gateway, tmp_path, "carol")
    ClientCertificate.objects.filter(pk=row.pk).update(expires_at=dt.datetime.now(dt.UTC))
    reply, _ = raw_tls_request(gateway, directory, f"/hosts/{UNIX_HOST}/v1.41/containers/json")
    assert reply.startswith(b"HTTP/1.1 401"), reply
    assert b"expired at" in reply


@needs_cli
def test_a_certificate_dockerweb_did_not_issue_is_refused(gateway: Gateway, tmp_path: Path) -> None:
    cli = CLIS[-1]
    # Of the CA in DOCKERWEB_GATEWAY_TLS_CLIENT_CA: through the handshake, but it names nobody.
    unknown = docker_with_cert(gateway, cli, gateway.client_tls_dir, "ps")
    assert unknown.returncode != 0
    assert "not issued by dockerweb" in unknown.stderr, unknown.stderr
    # Of a CA the gateway does not trust at all: the handshake fails.
    foreign = pki.make_ca("someone else's CA")
    client = pki.issue_client(foreign, "carol")
    directory = tmp_path / "foreign"
    pki.write_pem(str(directory), "ca.pem", _server_ca(gateway).read_text())
    pki.write_pem(str(directory), "cert.pem", client.cert_pem)
    pki.write_pem(str(directory), "key.pem", client.key_pem, private=True)
    result = docker_with_cert(gateway, cli, directory, "ps")
    assert result.returncode != 0
    assert "unknown certificate authority" in result.stderr or "bad certificate" in result.stderr, (
        result.stderr
    )
    _, error = raw_tls_request(gateway, directory, f"/hosts/{UNIX_HOST}/_ping")
    assert "UNKNOWN_CA" in error.upper().replace(" ", "_") or "BAD_CERTIFICATE" in error.upper(), error
    # The listener carries on.
    assert docker_with_cert(gateway, cli, gateway.client_tls_dir, "ps", user="alice").returncode == 0


def test_a_deactivated_users_certificate_is_refused(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    user = User.objects.create_user(_fresh("leaver"))
    try:
        user.is_superuser = True
        user.save()
        directory, _ = issued_dir(gateway, tmp_path, user.username)
        reply, _ = raw_tls_request(gateway, directory, f"/hosts/{UNIX_HOST}/v1.41/containers/json")
        assert reply.startswith(b"HTTP/1.1 200"), reply
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert wait_for(
            lambda: (
                b"deactivated user" in raw_tls_request(gateway, directory, f"/hosts/{UNIX_HOST}/_ping")[0]
            ),
            RECHECK + 5,
        )
    finally:
        user.delete()


# issuecert and the REST API.


def test_issuecert_refuses_to_overwrite_and_names_unknown_users(
    gateway: Gateway, committed: None, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    issuecert(gateway, "bob", "--out", str(out))
    again = issuecert(gateway, "bob", "--out", str(out), check=False)
    assert again.returncode != 0 and "--force" in again.stderr
    assert issuecert(gateway, "bob", "--out", str(out), "--force").returncode == 0
    missing = issuecert(gateway, "no-such-user", "--out", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "No user named 'no-such-user'" in missing.stderr
    assert ClientCertificate.objects.filter(user__username="bob").count() == 2


def test_the_ca_for_ca_pem_is_found_from_the_gateways_certificate(gateway: Gateway, tmp_path: Path) -> None:
    files = _tls_env(gateway)
    server, ca = files["DOCKERWEB_GATEWAY_TLS_CERT"], files["DOCKERWEB_GATEWAY_TLS_CLIENT_CA"]
    assert client_certs.gateway_trust_pem(server, [ca]) == Path(ca).read_text()
    assert client_certs.gateway_trust_pem(server, []) == ""  # a lone certificate of an unknown signer
    chain = tmp_path / "chain.pem"
    chain.write_text(Path(server).read_text() + Path(ca).read_text())
    assert client_certs.gateway_trust_pem(str(chain), []) == Path(ca).read_text()
    assert client_certs.gateway_trust_pem(ca, []) == Path(ca).read_text()  # self-signed: itself
    assert client_certs.gateway_trust_pem("", [ca]) == ""


@pytest.fixture
def api_as(committed: None) -> Iterator[Any]:
    """A REST client signed in as a user (a session), or with a bearer token when one is given."""

    def make(username: str, token: str | None = None) -> APIClient:
        client = APIClient()
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        else:
            client.force_authenticate(User.objects.get(username=username))
        return client

    yield make


def test_rest_issues_a_certificate_whose_key_is_shown_once(
    gateway: Gateway, api_as: Any, tmp_path: Path
) -> None:
    api = api_as("carol")
    name = _fresh("rest")
    created = api.post("/api/v1/certificates/", {"name": name, "expires_in_days": 30}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["user"] == "carol" and body["issued_by"] == "carol" and body["revoked"] is False
    assert "PRIVATE KEY" in body["private_key"] and "CERTIFICATE" in body["certificate"]
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=30))) < dt.timedelta(minutes=5)

    row = ClientCertificate.objects.get(pk=body["id"])
    stored = " ".join(str(getattr(row, field.attname)) for field in ClientCertificate._meta.concrete_fields)
    assert body["private_key"].strip() not in stored and "PRIVATE KEY" not in stored
    listed = api.get("/api/v1/certificates/")
    assert listed.status_code == 200
    mine = [item for item in listed.json()["results"] if item["id"] == row.pk]
    assert mine and "private_key" not in mine[0] and "PRIVATE KEY" not in listed.content.decode()
    assert api.get(f"/api/v1/certificates/{row.pk}/").json()["fingerprint"] == row.fingerprint
    again = api.post("/api/v1/certificates/", {"name": name}, format="json")
    assert again.status_code == 400 and "already has a certificate" in again.content.decode()

    # The PEMs from the response work with the SDK.
    directory = tmp_path / "from-rest"
    pki.write_pem(str(directory), "cert.pem", body["certificate"])
    pki.write_pem(str(directory), "key.pem", body["private_key"], private=True)
    pki.write_pem(str(directory), "ca.pem", _server_ca(gateway).read_text())
    client = sdk_with_cert(gateway, directory)
    try:
        assert client.containers.run(IMAGE, ["echo", "rest-cert"], remove=True) == b"rest-cert\n"
    finally:
        client.close()
    assert AuditEntry.objects.filter(
        entry_point=EntryPoint.REST, action="certificate.create", object_name=name
    )


def test_users_cannot_see_or_revoke_others_certificates_and_admins_can(gateway: Gateway, api_as: Any) -> None:
    carols = api_as("carol").post("/api/v1/certificates/", {"name": _fresh("c")}, format="json").json()
    bob = api_as("bob")
    assert carols["id"] not in [item["id"] for item in bob.get("/api/v1/certificates/").json()["results"]]
    assert bob.get(f"/api/v1/certificates/{carols['id']}/").status_code == 404
    assert bob.post(f"/api/v1/certificates/{carols['id']}/revoke/").status_code == 404
    assert ClientCertificate.objects.get(pk=carols["id"]).revoked_at is None
    refused = bob.post("/api/v1/certificates/", {"name": _fresh("b"), "user": "carol"}, format="json")
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]

    admin = api_as("alice")
    assert carols["id"] in [
        item["id"] for item in admin.get("/api/v1/certificates/?user=carol").json()["results"]
    ]
    assert admin.post(f"/api/v1/certificates/{carols['id']}/revoke/").json()["revoked"] is True
    for_bob = admin.post(
        "/api/v1/certificates/",
        {"name": _fresh("a"), "user": "bob", "max_role": "viewer", "default_host": UNIX_HOST},
        format="json",
    )
    assert for_bob.status_code == 201, for_bob.content
    assert (for_bob.json()["user"], for_bob.json()["issued_by"]) == ("bob", "alice")
    assert for_bob.json()["default_host"] == UNIX_HOST and for_bob.json()["max_role"] == "viewer"
    active = admin.get("/api/v1/certificates/?user=carol&active=true").json()["results"]
    assert carols["id"] not in [item["id"] for item in active]
    hidden = bob.post("/api/v1/certificates/", {"name": _fresh("h"), "default_host": TLS_HOST}, format="json")
    assert hidden.status_code == 400 and "is visible to you" in hidden.content.decode()


def test_a_limited_token_cannot_issue_an_unlimited_certificate(gateway: Gateway, api_as: Any) -> None:
    token, plaintext = ApiToken.issue(User.objects.get(username="alice"), _fresh("limited"))
    ApiToken.objects.filter(pk=token.pk).update(scope_hosts=["gw-*"], max_role=Role.OPERATOR)
    api = api_as("alice", plaintext)
    inherited = api.post("/api/v1/certificates/", {"name": _fresh("l")}, format="json")
    assert inherited.status_code == 201, inherited.content
    assert (inherited.json()["scope_hosts"], inherited.json()["max_role"]) == (["gw-*"], "operator")
    wider = api.post("/api/v1/certificates/", {"name": _fresh("w"), "max_role": "admin"}, format="json")
    assert wider.status_code == 400
    other = api.post("/api/v1/certificates/", {"name": _fresh("o"), "scope_hosts": ["*"]}, format="json")
    assert other.status_code == 400
    assert (
        api.post("/api/v1/certificates/", {"name": _fresh("u"), "user": "bob"}, format="json").status_code
        == 403
    )
