"""The real docker CLI (every version on the machine) through the gateway, compared with the engine itself."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from django.contrib.auth.models import User

from hosts import visibility
from images.models import Registry
from tests.gateway.clis import DockerCli, find_docker_clis
from tests.gateway.conftest import IMAGE, Gateway

CLIS = find_docker_clis()
pytestmark = pytest.mark.skipif(not CLIS, reason="no docker CLI on this machine (Debian package docker.io)")


@dataclass
class Docker:
    """One CLI bound to the gateway as alice (an admin: she sees what the engine shows)."""

    cli: DockerCli
    gateway: Gateway

    def __call__(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.cli.run(
            *args,
            docker_host=self.gateway.plain.url(),
            config=self.gateway.docker_config("alice"),
            **kwargs,  # type: ignore[arg-type]
        )

    def direct(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same command straight at engine1's socket."""
        return self.cli.run(*args, docker_host=self.gateway.testbed.engine1.unix_url)

    def direct_status(self, *args: str) -> int:
        return self.cli.run(*args, docker_host=self.gateway.testbed.engine1.unix_url, check=False).returncode

    @property
    def tag(self) -> str:
        return self.cli.label.replace(".", "-")


@pytest.fixture(scope="module", params=CLIS, ids=[cli.label for cli in CLIS])
def dk(request: pytest.FixtureRequest, gateway: Gateway) -> Docker:
    return Docker(request.param, gateway)


@pytest.fixture(scope="module")
def box(dk: Docker, engine1: docker.DockerClient) -> Iterator[str]:
    """A running container started through the gateway, shared by the tests of one CLI version."""
    name = f"gw-box-{dk.tag}"
    with contextlib.suppress(docker.errors.NotFound):
        engine1.containers.get(name).remove(force=True)
    dk("run", "-d", "--name", name, IMAGE, "sh", "-c", "echo box-started; sleep 600")
    try:
        yield name
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            engine1.containers.get(name).remove(force=True)


def lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.strip())


def test_version_negotiates_the_engine_api_and_matches_a_direct_call(dk: Docker) -> None:
    fmt = "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}"
    through = dk("version", "--format", fmt).stdout
    assert through == dk.direct("version", "--format", fmt).stdout
    assert through.split()[1:] == ["1.41", "1.41"]  # the CLI 28 downgraded from its 1.50 to the engine's


def test_info_and_images_match_a_direct_call(dk: Docker) -> None:
    fmt = "{{.ID}} {{.ServerVersion}} {{.Driver}} {{.OperatingSystem}} {{.Images}}"
    assert dk("info", "--format", fmt).stdout == dk.direct("info", "--format", fmt).stdout
    fmt = "{{.Repository}}:{{.Tag}} {{.ID}}"
    images = dk("images", "--format", fmt).stdout
    assert lines(images) == lines(dk.direct("images", "--format", fmt).stdout)
    assert f"{IMAGE} " in images


def test_pull_from_the_local_registry(dk: Docker) -> None:
    ref = f"{dk.gateway.testbed.registry}/busybox:1"
    pulled = dk("pull", ref)
    assert "Status:" in pulled.stdout and ref in pulled.stdout
    fmt = "{{.Id}}"
    assert (
        dk("image", "inspect", "-f", fmt, ref).stdout == dk.direct("image", "inspect", "-f", fmt, ref).stdout
    )


def test_search_reads_the_catalog_of_a_registry_dockerweb_knows(dk: Docker, committed: None) -> None:
    testbed = dk.gateway.testbed
    term = f"{testbed.registry}/busy"
    alice = User.objects.get(username="alice")
    registry = Registry.objects.create(
        name=f"gw-search-{dk.tag}", url=testbed.registry_url, server=testbed.registry, created_by=alice
    )
    try:
        found = dk("search", "--format", "{{.Name}}", term)
        assert found.stdout.split() == [f"{testbed.registry}/busybox"]
        assert dk("search", "--format", "{{.Name}}", f"{testbed.registry}/no-such-repo").stdout == ""
    finally:
        registry.delete()
    # Unknown to dockerweb, the term goes to the engine, which has no way to search a v2 registry.
    assert dk("search", term, check=False).returncode != 0
    assert dk.direct_status("search", term) != 0


def test_run_rm_prints_the_output(dk: Docker) -> None:
    assert dk("run", "--rm", IMAGE, "echo", "hi").stdout == "hi\n"


def test_run_i_passes_stdin_and_keeps_the_output_after_its_end(dk: Docker) -> None:
    script = "cat; sleep 0.2; echo after-eof"
    result = dk("run", "--rm", "-i", IMAGE, "sh", "-c", script, stdin=b"line1\nline2\n")
    assert result.stdout == "line1\nline2\nafter-eof\n"


def test_run_t_under_a_terminal(dk: Docker) -> None:
    code, output = dk.cli.run_in_pty(
        "run", "--rm", "-t", IMAGE, "sh", "-c", "tty; echo tty-ok",
        docker_host=dk.gateway.plain.url(), config=dk.gateway.docker_config("alice"),
    )  # fmt: skip
    assert code == 0, output
    assert "/dev/pts/" in output and "tty-ok" in output


def test_run_d_then_ps_logs_and_inspect_match_the_engine(dk: Docker, box: str) -> None:
    fmt = "{{.ID}} {{.Image}} {{.Names}} {{.Command}}"
    running = dk("ps", "--no-trunc", "--format", fmt).stdout
    assert box in running
    assert lines(running) == lines(dk.direct("ps", "--no-trunc", "--format", fmt).stdout)
    everything = dk("ps", "-a", "--no-trunc", "--format", fmt).stdout
    assert lines(everything) == lines(dk.direct("ps", "-a", "--no-trunc", "--format", fmt).stdout)
    assert dk("logs", box).stdout == "box-started\n" == dk.direct("logs", box).stdout
    direct = json.loads(dk.direct("inspect", box).stdout)
    assert visibility.strip_owner_labels(direct[0]["Config"]["Labels"])  # dockerweb's, on the engine only
    assert json.loads(dk("inspect", box).stdout) == direct


def test_logs_follow_ends_when_the_container_does(dk: Docker) -> None:
    script = "for i in 1 2 3; do echo n$i; sleep 0.2; done"
    container = dk("run", "-d", IMAGE, "sh", "-c", script).stdout.strip()
    try:
        followed = dk("logs", "-f", container, timeout=20)
        assert followed.stdout == "n1\nn2\nn3\n"
    finally:
        dk("rm", "-f", container)


def test_exec_with_and_without_stdin(dk: Docker, box: str) -> None:
    assert dk("exec", box, "echo", "in-exec").stdout == "in-exec\n"
    piped = dk("exec", "-i", box, "sh", "-c", "cat; sleep 0.2; echo done", stdin=b"from-stdin\n")
    assert piped.stdout == "from-stdin\ndone\n"
    assert dk("exec", box, "sh", "-c", "exit 3", check=False).returncode == 3


def test_stop_kill_and_rm(dk: Docker, engine1: docker.DockerClient) -> None:
    first = dk("run", "-d", IMAGE, "sleep", "600").stdout.strip()
    second = dk("run", "-d", IMAGE, "sleep", "600").stdout.strip()
    try:
        assert dk("stop", "-t", "1", first).stdout.strip() == first
        assert dk("kill", second).stdout.strip() == second
        states = {c: engine1.containers.get(c).attrs["State"] for c in (first, second)}
        assert [s["Status"] for s in states.values()] == ["exited", "exited"]
        assert states[second]["ExitCode"] == 137
        assert lines(dk("rm", first, second).stdout) == sorted([first, second])
        for container in (first, second):
            with pytest.raises(docker.errors.NotFound):
                engine1.containers.get(container)
    finally:
        for container in (first, second):
            with contextlib.suppress(docker.errors.NotFound):
                engine1.containers.get(container).remove(force=True)


def test_commit_build_and_push(dk: Docker, box: str, engine1: docker.DockerClient, tmp_path: Path) -> None:
    registry = dk.gateway.testbed.registry
    committed = f"gw-commit-{dk.tag}:1"
    built = f"{registry}/gw-build-{dk.tag}:1"
    (tmp_path / "Dockerfile").write_text(f'FROM {IMAGE}\nCOPY greeting /greeting\nCMD ["cat", "/greeting"]\n')
    (tmp_path / "greeting").write_text("built through the gateway\n")
    try:
        image_id = dk("commit", box, committed).stdout.strip()
        assert image_id == engine1.images.get(committed).id
        output = dk("build", "-t", built, str(tmp_path)).stdout
        assert "Successfully built" in output and f"Successfully tagged {built}" in output
        assert dk("run", "--rm", built).stdout == "built through the gateway\n"
        pushed = dk("push", built).stdout
        assert "digest: sha256:" in pushed
        tags = httpx.get(f"{dk.gateway.testbed.registry_url}/v2/gw-build-{dk.tag}/tags/list", timeout=10)
        assert tags.json()["tags"] == ["1"]
    finally:
        for ref in (committed, built):
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine1.images.remove(ref, force=True)


def test_cp_both_ways(dk: Docker, box: str, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: the archive upload streams chunked
    (tmp_path / "in.bin").write_bytes(payload)
    dk("cp", str(tmp_path / "in.bin"), f"{box}:/in.bin")
    assert dk("exec", box, "wc", "-c", "/in.bin").stdout.split()[0] == str(len(payload))
    dk("cp", f"{box}:/in.bin", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == payload


def test_network_create_ls_inspect_rm(dk: Docker) -> None:
    name = f"gw-net-{dk.tag}"
    network_id = dk("network", "create", name).stdout.strip()
    try:
        assert name in dk("network", "ls", "--format", "{{.Name}}").stdout.split()
        labels = json.loads(dk.direct("network", "inspect", "-f", "{{json .Labels}}", name).stdout)
        assert labels == {"dockerweb.owner.user": "alice", "dockerweb.owner.team": "red"}
        # Through the gateway, the labels the client wrote (none): the engine's answer without dockerweb's.
        direct = json.loads(dk.direct("network", "inspect", name).stdout)
        visibility.strip_owner_labels(direct[0]["Labels"])
        assert json.loads(dk("network", "inspect", name).stdout) == direct
    finally:
        dk("network", "rm", network_id)
    assert name not in dk.direct("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_volume_create_ls_inspect_rm(dk: Docker) -> None:
    name = f"gw-vol-{dk.tag}"
    assert dk("volume", "create", name).stdout.strip() == name
    try:
        assert name in dk("volume", "ls", "--format", "{{.Name}}").stdout.split()
        labels = json.loads(dk.direct("volume", "inspect", "-f", "{{json .Labels}}", name).stdout)
        assert labels == {"dockerweb.owner.user": "alice", "dockerweb.owner.team": "red"}
        # Through the gateway, the labels the client wrote (none): the engine's answer without dockerweb's.
        direct = json.loads(dk.direct("volume", "inspect", name).stdout)
        visibility.strip_owner_labels(direct[0]["Labels"])
        assert json.loads(dk("volume", "inspect", name).stdout) == direct
    finally:
        dk("volume", "rm", name)
    assert name not in dk.direct("volume", "ls", "--format", "{{.Name}}").stdout.split()


def test_events_until_match_the_engine(dk: Docker) -> None:
    since = f"{time.time() - 1:.3f}"
    container = dk("create", "--name", f"gw-events-{dk.tag}", IMAGE, "true").stdout.strip()
    dk("rm", container)
    until = f"{time.time() + 0.5:.3f}"
    time.sleep(0.6)
    window = ("events", "--since", since, "--until", until, "--format", "{{json .}}")
    through = dk(*window, timeout=20).stdout
    direct = [json.loads(line) for line in dk.direct(*window).stdout.splitlines()]
    for event in direct:  # dockerweb's owner labels are the engine's only
        visibility.strip_owner_labels(event["Actor"]["Attributes"])
    assert [json.loads(line) for line in through.splitlines()] == direct
    actions = [(event["Action"], event["Actor"]["ID"]) for event in map(json.loads, through.splitlines())]
    assert ("create", container) in actions and ("destroy", container) in actions


def test_stats_no_stream(dk: Docker, box: str) -> None:
    stats = dk("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", box, timeout=30)
    name, pids = stats.stdout.split()
    assert name == box and int(pids) >= 1
