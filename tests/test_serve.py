"""`manage.py serve` (what `make run` starts): embedded Redis, web, worker, beat; host `local`; clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.testbed import Testbed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_serve_starts_all_registers_local_and_stops_on_ctrl_c(testbed: Testbed, tmp_path: Path) -> None:
    port, gateway_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DOCKERWEB_CELERY_QUEUE", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DOCKERWEB_DATA_DIR=str(tmp_path),
        DOCKERWEB_HTTP=f"127.0.0.1:{port}",
        DOCKER_HOST=testbed.engine1.unix_url,
        DOCKERWEB_HOST_REFRESH_INTERVAL="2",
        DOCKERWEB_GATEWAY=f"127.0.0.1:{gateway_port}",
    )
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, manage, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "dockerweb is running" not in log_path.read_text():
            assert serve.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        output = log_path.read_text()
        assert "registered host 'local'" in output and "Docker 20.10" in output
        assert output.count("one-time password") == 1
        names = {line.split()[2] for line in output.splitlines() if line.startswith("[dockerweb] started")}
        assert names == {"redis", "web", "worker", "beat", "gateway"}
        assert (tmp_path / "redis.sock").exists()

        token = subprocess.run(
            [sys.executable, manage, "createtoken", "admin"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/hosts/", headers={"Authorization": f"Bearer {token}"}
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL
                    hosts = json.load(response)["results"]
                break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.3)
        assert [(h["name"], h["status"]) for h in hosts] == [("local", "up")]
        # The gateway answers for host `local` with the engine's own ping headers.
        ping = urllib.request.Request(
            f"http://127.0.0.1:{gateway_port}/hosts/local/_ping", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(ping, timeout=10) as response:  # noqa: S310 - loopback URL
            assert response.read() == b"OK" and response.headers["Api-Version"] == "1.41"
        # beat + worker refresh it on their own (interval 2 s here).
        first_check = hosts[0]["last_checked_at"]
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if json.load(response)["results"][0]["last_checked_at"] != first_check:
                    break
            assert time.monotonic() < deadline, "beat and worker did not refresh the host"
            time.sleep(0.5)

        # A killed worker is started again while the others keep serving (no restart of everything).
        started = re.findall(r"started worker \(pid (\d+)\)", log_path.read_text())
        os.kill(int(started[-1]), signal.SIGKILL)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - web still answers
            assert response.status == 200
        deadline = time.monotonic() + 20
        while len(re.findall(r"started worker \(pid (\d+)\)", log_path.read_text())) < 2:
            assert serve.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert "worker exited with status -9; starting it again in 1s" in log_path.read_text()

        children = _children_of(serve.pid)
        assert len(children) == 5
        serve.send_signal(signal.SIGINT)
        assert serve.wait(30) == 0
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        assert "stopped redis" in log_path.read_text()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


@pytest.mark.django_db
def test_the_local_host_is_registered_on_first_start_only(tmp_path: Path) -> None:
    from hosts.models import Host
    from hosts.services import ensure_local_host

    marker = tmp_path / "marker"
    first = ensure_local_host(marker)
    assert first is not None and first.name == "local"
    Host.objects.filter(name="local").delete()  # the admin removed it on purpose
    assert ensure_local_host(marker) is None
    assert not Host.objects.exists()
