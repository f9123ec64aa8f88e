"""Clients over TLS to the gateway (a half-close there is a close_notify or a FIN under TLS, and output
must keep flowing after it), onto a unix-socket engine and onto a TLS engine."""

from __future__ import annotations

import socket
import ssl

import docker
import pytest

from tests.gateway.clis import DockerCli, find_docker_clis
from tests.gateway.conftest import IMAGE, TLS_HOST, UNIX_HOST, Gateway

CLIS = find_docker_clis()


@pytest.mark.skipif(not CLIS, reason="no docker CLI on this machine (Debian package docker.io)")
@pytest.mark.parametrize("cli", CLIS, ids=[cli.label for cli in CLIS])
@pytest.mark.parametrize("host", [UNIX_HOST, TLS_HOST])
def test_the_cli_over_tls_keeps_output_after_stdin_ends(gateway: Gateway, cli: DockerCli, host: str) -> None:
    tls = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(gateway.client_tls_dir)}
    config = gateway.docker_config("alice")
    url = gateway.tls.url(host)
    version = cli.run(
        "version", "--format", "{{.Server.APIVersion}}", docker_host=url, config=config, env=tls
    )
    assert version.stdout.strip() == "1.41"
    script = "cat; sleep 0.3; echo after-eof"
    ran = cli.run("run", "--rm", "-i", IMAGE, "sh", "-c", script, docker_host=url, config=config, env=tls,
                  stdin=b"over-tls\n")  # fmt: skip
    assert ran.stdout == "over-tls\nafter-eof\n"


def test_the_sdk_over_tls(gateway: Gateway) -> None:
    directory = gateway.client_tls_dir
    tls = docker.tls.TLSConfig(
        client_cert=(str(directory / "cert.pem"), str(directory / "key.pem")),
        ca_cert=str(directory / "ca.pem"),
        verify=True,
    )
    client = docker.DockerClient(base_url=gateway.tls.url(TLS_HOST), tls=tls, version="1.41", timeout=60)
    client.api.trust_env = False  # requests would swap our CA for REQUESTS_CA_BUNDLE
    client.api.headers.update(gateway.headers("alice"))
    try:
        assert client.containers.run(IMAGE, ["echo", "sdk-over-tls"], remove=True) == b"sdk-over-tls\n"
    finally:
        client.close()


def test_a_plain_client_on_the_tls_port_is_dropped_and_the_listener_carries_on(gateway: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.tls.port), timeout=10) as plain:
        plain.sendall(b"GET /hosts/gw-unix/_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert plain.recv(4096)[:1] != b"H"  # a TLS alert or nothing, never an HTTP answer
    context = ssl.create_default_context(cafile=str(gateway.client_tls_dir / "ca.pem"))
    token = gateway.tokens["alice"]
    request = f"GET /hosts/gw-unix/_ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", gateway.tls.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(request.encode())
        assert tls.recv(4096).startswith(b"HTTP/1.1 200")
