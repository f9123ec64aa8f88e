"""One private dockerd: own netns + bridge, own dirs, unix socket, mutual-TLS TCP API, registry bridge."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from . import netns
from .probes import https_ping, tls_context, unix_ping, wait_until
from .procs import Proc, ProcessTable, stop_proc, sweep_netns

IN_NETNS_TLS_PORT = 2376
READY_TIMEOUT = 30.0
# Refuse any non-loopback registry traffic at once: every proxied request goes to a closed port.
_NO_EGRESS_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "localhost,127.0.0.1",
}
# Runs inside the fresh mount namespace: hide the host's containerd/docker run dirs, so dockerd never
# adopts a system containerd (it does if /run/containerd/containerd.sock exists) and shim sockets stay
# private. Then enter the engine netns and exec dockerd (same pid all the way down).
_WRAPPER = (
    'for d in /run/containerd /run/docker; do mount -t tmpfs -o mode=0711 dwtestbed "$d" || exit 1; done; '
    'exec nsenter "--net=$0" "$@"'
)


@dataclass(frozen=True)
class TLSFiles:
    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class EngineConfig:
    name: str
    netns: str
    bridge: str
    cidr: str
    directory: str
    tls_port: int  # on the host's 127.0.0.1
    registry_bridge_socket: str
    server_tls: TLSFiles
    client_tls: TLSFiles

    def path(self, *parts: str) -> str:
        return os.path.join(self.directory, *parts)


class EngineControl:
    """Starts/stops the processes behind one engine; the netns outlives stop() so start() can reuse it."""

    def __init__(self, cfg: EngineConfig, procs: ProcessTable) -> None:
        self.cfg = cfg
        self._procs = procs
        self.socket_path = cfg.path("docker.sock")
        self.dockerd: Proc | None = None
        self.registry_port = 0  # set once the registry runs; same number on the host and in the netns
        self._helpers: list[Proc] = []

    # --- namespace -----------------------------------------------------------------------------
    def create_netns(self) -> None:
        self._procs.add_netns(self.cfg.netns)  # record first: a half-made netns is still cleaned up
        netns.create_netns(self.cfg.netns, self.cfg.bridge, self.cfg.cidr)

    def destroy(self) -> None:
        """Stop everything and delete the netns (teardown)."""
        try:
            self.stop()
        finally:
            netns.delete_netns(self.cfg.netns)

    # --- lifecycle -----------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start dockerd and the socat pairs without waiting (so several engines boot in parallel)."""
        self.spawn_dockerd()
        self.spawn_bridges()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn_dockerd(self) -> None:
        for d in (self.cfg.path("data"), self.cfg.path("exec"), "/run/containerd", "/run/docker"):
            os.makedirs(d, exist_ok=True)  # the /run ones are only mount points for _WRAPPER's tmpfs
        # Own trust key => own engine ID (20.10 derives `docker info` ID from it; the default
        # /etc/docker/key.json would be shared). Own config file => /etc/docker/daemon.json is ignored.
        config_file = self.cfg.path("daemon.json")
        with open(config_file, "w") as fh:
            json.dump({"deprecated-key-path": self.cfg.path("key.json")}, fh)
        argv = [
            "unshare", "--mount", "--propagation", "slave",
            "sh", "-c", _WRAPPER, netns.netns_path(self.cfg.netns),
            "dockerd", *self._dockerd_args(config_file),
        ]  # fmt: skip
        self.dockerd = self._procs.spawn(f"{self.cfg.name}-dockerd", argv, env=_NO_EGRESS_ENV)

    def _dockerd_args(self, config_file: str) -> list[str]:
        tls = self.cfg.server_tls
        return [
            "--config-file", config_file,
            "--host", f"unix://{self.socket_path}",
            "--host", f"tcp://127.0.0.1:{IN_NETNS_TLS_PORT}",
            "--tlsverify", "--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key,
            "--data-root", self.cfg.path("data"),
            "--exec-root", self.cfg.path("exec"),
            "--pidfile", self.cfg.path("docker.pid"),
            "--iptables=false", "--ip-masq=false", "--ip-forward=false",
            "--storage-driver=vfs",
            "--bridge", self.cfg.bridge,
            "--shutdown-timeout", "3",  # containers that ignore SIGTERM must not slow teardown
        ]  # fmt: skip

    def spawn_bridges(self) -> None:
        """socat pairs through unix sockets: host:tls_port -> netns:2376, netns:registry -> host registry."""
        ns = f"--net={netns.netns_path(self.cfg.netns)}"
        tls_sock = self.cfg.path("tls-bridge.sock")
        reg_port = self.registry_port
        specs = [
            ("tls-netns", ["nsenter", ns, "socat", f"UNIX-LISTEN:{tls_sock},fork,unlink-early",
                           f"TCP:127.0.0.1:{IN_NETNS_TLS_PORT},nodelay"]),
            ("tls-host", ["socat", f"TCP-LISTEN:{self.cfg.tls_port},bind=127.0.0.1,reuseaddr,fork,nodelay",
                          f"UNIX-CONNECT:{tls_sock}"]),
            ("registry-netns", ["nsenter", ns, "socat",
                                f"TCP-LISTEN:{reg_port},bind=127.0.0.1,reuseaddr,fork",
                                f"UNIX-CONNECT:{self.cfg.registry_bridge_socket}"]),
        ]  # fmt: skip
        self._helpers = [self._procs.spawn(f"{self.cfg.name}-{name}", argv) for name, argv in specs]

    def wait_ready(self) -> None:
        dockerd = self.dockerd
        assert dockerd is not None
        wait_until(
            f"{self.cfg.name} dockerd on {self.socket_path}",
            lambda: unix_ping(self.socket_path),
            timeout=READY_TIMEOUT,
            alive=dockerd.alive,
            details=lambda: f"--- {dockerd.log_path} (tail) ---\n{dockerd.log_tail()}",
        )
        client = self.cfg.client_tls
        ctx = tls_context(client.ca, client.cert, client.key)
        wait_until(
            f"{self.cfg.name} TLS API on 127.0.0.1:{self.cfg.tls_port}",
            lambda: https_ping(self.cfg.tls_port, ctx),
            timeout=10,
            alive=lambda: all(p.alive() for p in self._helpers) and dockerd.alive(),
            details=lambda: "\n".join(f"--- {p.name} ---\n{p.log_tail(5)}" for p in self._helpers),
        )

    def stop(self) -> None:
        """Stop socats first (so the TLS port refuses), then dockerd, then sweep the netns."""
        for proc in self._helpers:
            stop_proc(proc)
        self._helpers = []
        if self.dockerd is not None:
            # Only dockerd itself: it stops its containers and its containerd in order.
            stop_proc(self.dockerd, timeout=20, whole_group=False)
        # Anything that survived (containerd, shims, container processes after a crash).
        sweep_netns(netns.netns_path(self.cfg.netns))
