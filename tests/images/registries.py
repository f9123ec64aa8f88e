"""Extra registries for the images tests (no tests here): one with htpasswd auth, and a fake one that serves
a layer slowly so a pull can be cancelled mid-download. Both are reached by engine1 as localhost:<port>
through socat bridges into its network namespace, like the testbed's own registry."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.testbed import Engine, netns
from tests.testbed.registry import free_port

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def bcrypt_line(user: str, password: str) -> str | None:
    """An htpasswd line with a bcrypt hash (the registry accepts no other), or None if none can be made."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt  # glibc's libxcrypt makes bcrypt ($2b$) hashes; gone from Python 3.13
        except ImportError:
            return None
    # bcrypt is what the registry demands; the lowest cost keeps its per-request check fast.
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # noqa: S324
    return f"{user}:{hashed}" if hashed and hashed.startswith("$2") else None


def _wait(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready within {timeout:g}s")


@contextlib.contextmanager
def exposed_to(engine: Engine, port: int, workdir: str) -> Iterator[None]:
    """Make 127.0.0.1:<port> of this machine reachable inside the engine's netns at the same address."""
    sock = os.path.join(workdir, f"bridge-{engine.name}-{port}.sock")
    ns = f"--net={netns.netns_path(engine.netns)}"
    procs = [
        subprocess.Popen(
            ["socat", f"UNIX-LISTEN:{sock},fork,unlink-early", f"TCP:127.0.0.1:{port}"],
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        _wait(lambda: os.path.exists(sock), "bridge socket")
        procs.append(
            subprocess.Popen(
                [
                    "nsenter",
                    ns,
                    "socat",
                    f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                    f"UNIX-CONNECT:{sock}",
                ],
                stderr=subprocess.DEVNULL,
            )
        )
        probe = ["nsenter", ns, "socat", "-u", "OPEN:/dev/null", f"TCP:127.0.0.1:{port},connect-timeout=1"]
        _wait(lambda: subprocess.run(probe, capture_output=True).returncode == 0, "netns listener")
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class AuthRegistry:
    address: str
    url: str
    username: str
    password: str


@contextlib.contextmanager
def auth_registry(engine: Engine, workdir: str) -> Iterator[AuthRegistry]:
    """A Distribution registry that demands htpasswd credentials."""
    user, password = "ci-robot", "s3cret-registry-pw"
    line = bcrypt_line(user, password)
    if line is None:
        raise RuntimeError("no bcrypt support (crypt module) to write an htpasswd file")
    port = free_port()
    root = os.path.join(workdir, f"auth-registry-{port}")
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "htpasswd"), "w") as fh:
        fh.write(line + "\n")
    config = os.path.join(root, "config.yml")
    with open(config, "w") as fh:
        fh.write(
            f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n"
            f"http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: dockerweb-test\n"
            f"    path: {root}/htpasswd\n"
        )
    proc = subprocess.Popen(
        ["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 401
            except httpx.HTTPError:
                return False

        _wait(answers, "auth registry")
        with exposed_to(engine, port, root):
            yield AuthRegistry(f"localhost:{port}", f"http://127.0.0.1:{port}", user, password)
    finally:
        proc.kill()  # a throwaway registry: no need to drain the engines' keep-alive connections
        proc.wait(10)


@dataclass
class SlowRegistry:
    """Serves `slow:1`, a one-layer image whose layer never finishes downloading."""

    address: str
    blob_started: threading.Event = field(default_factory=threading.Event)
    blob_closed: threading.Event = field(default_factory=threading.Event)
    sent: int = 0


def _handler(state: SlowRegistry, arch: str) -> type[BaseHTTPRequestHandler]:
    layer_size = 512 * 1024 * 1024
    layer_digest = "sha256:" + hashlib.sha256(b"never complete").hexdigest()
    config = json.dumps(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer_size,
                    "digest": layer_digest,
                }
            ],
        }
    ).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            if self.path == "/v2/":
                self._send(b"{}", "application/json")
            elif self.path.startswith("/v2/slow/manifests/"):
                self._send(manifest, MANIFEST_TYPE, {"Docker-Content-Digest": manifest_digest})
            elif self.path == f"/v2/slow/blobs/{config_digest}":
                self._send(config, "application/octet-stream", {"Docker-Content-Digest": config_digest})
            elif self.path == f"/v2/slow/blobs/{layer_digest}":
                self._slow_layer()
            else:
                self.send_error(404)

        def _slow_layer(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(layer_size))
            self.end_headers()
            state.blob_started.set()
            chunk = b"\0" * 32 * 1024
            deadline = time.monotonic() + 60  # bounded: never more than a minute of traffic
            try:
                while time.monotonic() < deadline:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    state.sent += len(chunk)
                    time.sleep(0.02)
            except OSError:
                state.blob_closed.set()
            self.close_connection = True

    return Handler


@contextlib.contextmanager
def slow_registry(engine: Engine, workdir: str, arch: str) -> Iterator[SlowRegistry]:
    port = free_port()
    state = SlowRegistry(f"localhost:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state, arch))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with exposed_to(engine, port, workdir):
            yield state
    finally:
        server.shutdown()
        server.server_close()


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
