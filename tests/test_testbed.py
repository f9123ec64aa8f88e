"""The test engines themselves: isolated, distinct, TLS-protected, wired to the private registry."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
from pathlib import Path

import docker
import docker.errors
import docker.tls
import pytest
import requests

from tests.testbed import Engine, Testbed

pytestmark = pytest.mark.engine
API_VERSION = "1.41"


@pytest.fixture(scope="module")
def tls_files(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    return testbed.engine1.client_tls.write_files(str(tmp_path_factory.mktemp("client-tls")))


def unix_client(engine: Engine) -> docker.DockerClient:
    return docker.DockerClient(base_url=engine.unix_url, version=API_VERSION, timeout=60)


def tls_client(engine: Engine, ca: str, cert: tuple[str, str] | None = None) -> docker.DockerClient:
    tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=ca, verify=True)
    client = docker.DockerClient(base_url=engine.tls_url, tls=tls, version=API_VERSION, timeout=10)
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on many machines) override the SDK's CA
    # file, and would honour HTTPS_PROXY; neither may apply to a private engine.
    client.api.trust_env = False
    return client


def test_engines_are_distinct_and_have_the_test_images(testbed: Testbed) -> None:
    ids = []
    for engine in testbed.engines:
        client = unix_client(engine)
        ids.append(client.info()["ID"])
        tags = {tag for image in client.images.list() for tag in image.tags}
        assert set(testbed.images) <= tags, engine.name
        client.close()
    assert ids[0] != ids[1]
    assert testbed.engine1.netns != testbed.engine2.netns
    assert testbed.engine1.bridge != testbed.engine2.bridge


def test_tls_with_client_cert_works_on_both(testbed: Testbed, tls_files: tuple[str, str, str]) -> None:
    ca, cert, key = tls_files
    for engine in testbed.engines:
        client = tls_client(engine, ca, (cert, key))
        assert client.ping()
        assert client.info()["ID"] == unix_client(engine).info()["ID"]
        client.close()


def test_tls_without_client_cert_is_refused(testbed: Testbed, tls_files: tuple[str, str, str]) -> None:
    ca, _, _ = tls_files
    client = tls_client(testbed.engine1, ca)
    with pytest.raises(requests.exceptions.RequestException) as exc:
        client.ping()
    assert "CERTIFICATE_VERIFY_FAILED" not in str(exc.value)  # the server refused us, not vice versa


def test_server_is_not_trusted_with_the_wrong_ca(
    testbed: Testbed, tls_files: tuple[str, str, str], tmp_path: Path
) -> None:
    _, cert, key = tls_files
    wrong_ca = tmp_path / "wrong-ca.pem"
    wrong_ca.write_text(testbed.wrong_ca_pem)
    client = tls_client(testbed.engine2, str(wrong_ca), (cert, key))
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client.ping()


def test_registry_image_can_be_pulled_again_on_engine2(testbed: Testbed) -> None:
    ref = f"{testbed.registry}/busybox:1"
    client = unix_client(testbed.engine2)
    client.images.remove(ref)  # only untags: dwtest/busybox:latest still holds the layers
    assert ref not in {tag for image in client.images.list() for tag in image.tags}
    image = client.images.pull(f"{testbed.registry}/busybox", tag="1")
    assert ref in image.tags
    host, port = testbed.registry_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/v2/_catalog")
    assert "busybox" in json.loads(conn.getresponse().read())["repositories"]


def test_containers_reach_each_other_but_not_outside(testbed: Testbed) -> None:
    client = unix_client(testbed.engine1)
    image = testbed.images[0]
    # Positive control: wget works container-to-container on the engine's bridge.
    server = client.containers.run(image, ["httpd", "-f", "-p", "8080", "-h", "/bin"], detach=True)
    try:
        server.reload()
        ip = server.attrs["NetworkSettings"]["IPAddress"]
        fetch = ["wget", "-q", "-O", "/dev/null", f"http://{ip}:8080/busybox"]
        client.containers.run(image, fetch, remove=True)
    finally:
        server.remove(force=True)
    # Busybox 1.35's `wget -T` segfaults (exit 139), which would pass this test vacuously, so use
    # `timeout` -- with init=True: as PID 1, wget would ignore timeout's SIGTERM and hang for ~2 min.
    # The packets die in the engine netns (no route there, no forwarding).
    outside = ["timeout", "2", "wget", "-q", "-O", "/dev/null", "http://1.1.1.1/"]
    with pytest.raises(docker.errors.ContainerError) as exc:
        client.containers.run(image, outside, init=True, remove=True)
    assert exc.value.exit_status in (1, 143), exc.value  # wget error or killed by timeout, never a crash
    route = subprocess.run(
        ["ip", "-n", testbed.engine1.netns, "route", "get", "1.1.1.1"], capture_output=True
    )
    assert route.returncode != 0 and b"unreachable" in route.stderr


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_engine_can_be_stopped_and_started(testbed: Testbed, tls_files: tuple[str, str, str]) -> None:
    engine = testbed.engine2
    old_pid = engine.dockerd_pid
    engine.stop()
    try:
        with pytest.raises((requests.exceptions.ConnectionError, docker.errors.DockerException)):
            unix_client(engine).ping()
        assert _refused(engine.tls_port)
        assert unix_client(testbed.engine1).ping()  # the other engine runs on
    finally:
        engine.start()
    assert engine.dockerd_pid != old_pid
    assert unix_client(engine).ping()
    ca, cert, key = tls_files
    assert tls_client(engine, ca, (cert, key)).ping()
    assert testbed.images[0] in {tag for image in unix_client(engine).images.list() for tag in image.tags}
