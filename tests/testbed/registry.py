"""The private Distribution registry on the host's 127.0.0.1, plus the unix-socket end of its bridges."""

from __future__ import annotations

import os
import socket

from .probes import NotReady, http_ok, wait_until
from .procs import Proc, ProcessTable, stop_proc

PREFERRED_PORT = 5000
_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def free_port(preferred: int | None = None) -> int:
    """preferred if it can be bound on 127.0.0.1 now, else a kernel-chosen free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


class Registry:
    def __init__(self, procs: ProcessTable, workdir: str) -> None:
        self._procs = procs
        self.dir = os.path.join(workdir, "registry")
        self.bridge_socket = os.path.join(workdir, "registry-bridge.sock")
        self.port = 0
        self._proc: Proc | None = None
        self._bridge: Proc | None = None

    @property
    def address(self) -> str:
        # "localhost:<port>" both on the host and inside every engine netns; dockerd trusts
        # loopback registries over plain HTTP.
        return f"localhost:{self.port}"

    def start(self, attempts: int = 3) -> None:
        """Start on 5000 (or a free port), retrying if another process grabs the port first."""
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        error: Exception | None = None
        for attempt in range(attempts):
            self.port = free_port(PREFERRED_PORT if attempt == 0 else None)
            self._proc = self._spawn()
            try:
                self._wait_ready()
                break
            except NotReady as exc:
                error = exc
                stop_proc(self._proc)
        else:
            raise NotReady(f"registry did not start: {error}")
        self._start_bridge()

    def _spawn(self) -> Proc:
        config = os.path.join(self.dir, f"config-{self.port}.yml")
        with open(config, "w") as fh:
            fh.write(_CONFIG.format(root=os.path.join(self.dir, "data"), port=self.port))
        return self._procs.spawn("registry", ["docker-registry", "serve", config])

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        wait_until(
            f"registry on 127.0.0.1:{self.port}",
            lambda: http_ok(self.port, "/v2/"),
            timeout=15,
            alive=proc.alive,
            details=proc.log_tail,
        )

    def _start_bridge(self) -> None:
        # Engines live in other netns; they reach the registry through this unix socket.
        self._bridge = self._procs.spawn(
            "registry-bridge-host",
            [
                "socat",
                f"UNIX-LISTEN:{self.bridge_socket},fork,unlink-early",
                f"TCP:127.0.0.1:{self.port}",
            ],
        )
        bridge = self._bridge
        wait_until(
            "registry bridge socket",
            lambda: os.path.exists(self.bridge_socket),
            timeout=10,
            alive=bridge.alive,
            details=bridge.log_tail,
        )

    def stop(self) -> None:
        for proc in (self._bridge, self._proc):
            if proc is not None:
                stop_proc(proc)
