"""The Python docker SDK through the gateway."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.gateway.conftest import IMAGE, Gateway


@pytest.fixture(scope="module")
def sdk(gateway: Gateway) -> Iterator[docker.DockerClient]:
    """alice's SDK client; the constructor negotiates the API version through the gateway."""
    client = gateway.sdk("alice", version="auto")
    try:
        yield client
    finally:
        client.close()


def test_the_version_probe_and_ping_go_through(sdk: docker.DockerClient) -> None:
    assert sdk.api.api_version == "1.41"
    assert sdk.ping() is True
    assert sdk.version()["ApiVersion"] == "1.41"


def test_containers_run_attached_returns_the_output(sdk: docker.DockerClient) -> None:
    assert sdk.containers.run(IMAGE, ["echo", "from-sdk"], remove=True) == b"from-sdk\n"


def test_detached_run_exec_and_streamed_logs(sdk: docker.DockerClient) -> None:
    script = "for i in 1 2 3; do echo s$i; sleep 0.2; done; sleep 600"
    container = sdk.containers.run(IMAGE, ["sh", "-c", script], detach=True)
    try:
        assert container.exec_run(["echo", "in-exec"]) == (0, b"in-exec\n")
        assert container.exec_run(["sh", "-c", "exit 4"]).exit_code == 4
        stream = container.logs(stream=True, follow=True)
        received = b""
        deadline = time.monotonic() + 10
        for chunk in stream:
            received += chunk
            if received.count(b"\n") >= 3 or time.monotonic() > deadline:
                break
        stream.close()
        assert received == b"s1\ns2\ns3\n"  # while the container still runs: nothing held back
    finally:
        container.remove(force=True)


def test_images_build_and_pull_from_the_local_registry(
    sdk: docker.DockerClient, gateway: Gateway, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo sdk-built > /sdk\n")
    tag = "gw-sdk-build:1"
    try:
        image, log = sdk.images.build(path=str(tmp_path), tag=tag, rm=True)
        assert tag in image.tags and any("Successfully built" in entry.get("stream", "") for entry in log)
        assert sdk.containers.run(tag, ["cat", "/sdk"], remove=True) == b"sdk-built\n"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            sdk.images.remove(tag, force=True)
    pulled = sdk.images.pull(f"{gateway.testbed.registry}/busybox", tag="1")
    assert f"{gateway.testbed.registry}/busybox:1" in pulled.tags


def test_attach_socket_carries_stdin_and_output(sdk: docker.DockerClient) -> None:
    container = sdk.containers.run(IMAGE, ["cat"], detach=True, stdin_open=True, tty=True)
    try:
        sock = sdk.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = sock._sock
        raw.settimeout(10)
        raw.sendall(b"ping-through-attach\n")
        received = b""
        while received.count(b"ping-through-attach") < 2:  # the terminal's echo, then cat's copy
            chunk = raw.recv(4096)
            assert chunk, received
            received += chunk
        sock.close()
    finally:
        container.remove(force=True)
