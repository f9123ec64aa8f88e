"""Readiness probes (stdlib only, never through an HTTP proxy) and a generic wait loop."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable


class NotReady(RuntimeError):
    pass


def unix_ping(socket_path: str, timeout: float = 2.0) -> bool:
    """GET /_ping on a Docker unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def tls_context(ca_file: str, cert_file: str | None = None, key_file: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


def https_ping(port: int, ctx: ssl.SSLContext, timeout: float = 2.0) -> bool:
    """GET /_ping over mutual TLS on 127.0.0.1:port."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def http_ok(port: int, path: str, timeout: float = 2.0) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    details: Callable[[], str] = lambda: "",
) -> None:
    """Poll check() until True; fail early if the process behind it died (alive() False)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if check():
            return
        if not alive():
            raise NotReady(f"{what}: process exited before it was ready\n{details()}")
        if time.monotonic() > deadline:
            raise NotReady(f"{what}: not ready after {timeout:.0f}s\n{details()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
