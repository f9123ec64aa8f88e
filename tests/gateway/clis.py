"""Every docker CLI on this machine, and running one against the gateway or straight at an engine."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_PLACES = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/opt/bin")
# Proxies would catch tcp:// DOCKER_HOSTs; nothing these tests talk to needs one.
_DROPPED_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class DockerCli:
    path: str
    version: str  # e.g. 28.2.2

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def label(self) -> str:
        return f"docker-{self.version.split('+')[0]}"

    def env(
        self, docker_host: str, config: Path | None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV and not k.startswith("DOCKER_")}
        env.update(
            DOCKER_HOST=docker_host,
            DOCKER_CONFIG=str(config) if config is not None else "/nonexistent-docker-config",
            DOCKER_CLI_HINTS="false",
            DOCKER_BUILDKIT="0",  # no buildx here: the classic builder, as the gateway's users are told
            NO_PROXY="127.0.0.1,localhost",
        )
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        docker_host: str,
        config: Path | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        check: bool = True,
        cwd: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS`; with check, fail with both outputs unless it exits 0."""
        result = subprocess.run(
            [self.path, *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=self.env(docker_host, config, env),
            timeout=timeout,
            cwd=cwd,
        )
        completed = subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.label} {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {completed.stdout}\nstderr: {completed.stderr}"
            )
        return completed

    def run_in_pty(
        self, *args: str, docker_host: str, config: Path | None = None, timeout: float = 30
    ) -> tuple[int, str]:
        """Run `docker ARGS` with a terminal as stdin/stdout/stderr (for -t); returns (exit code, output)."""
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [self.path, *args],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=self.env(docker_host, config),
            close_fds=True,
        )
        os.close(terminal)
        output = bytearray()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([controller], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(controller, 65536)
                    except OSError:  # EIO: the last holder of the terminal exited
                        break
                    if not chunk:
                        break
                    output += chunk
                elif process.poll() is not None:
                    break
            code = process.wait(max(0.1, deadline - time.monotonic()))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(controller)
        return code, output.decode(errors="replace")


def find_docker_clis() -> list[DockerCli]:
    """Every distinct docker CLI on PATH and in the usual bin folders, oldest first."""
    candidates = [os.path.join(place, "docker") for place in _PLACES]
    found = shutil.which("docker")
    if found:
        candidates.insert(0, found)
    seen: dict[str, DockerCli] = {}
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        try:
            out = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"version ([0-9][^,\s]*)", out)
        if match and match.group(1) not in {cli.version for cli in seen.values()}:
            seen[real] = DockerCli(real, match.group(1))
    return sorted(seen.values(), key=lambda cli: [int(p) for p in re.findall(r"\d+", cli.version)[:3]])
