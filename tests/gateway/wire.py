"""A bare HTTP/1.1 client for wire-level tests: one socket, h11 for the heads, raw bytes after a hijack."""

from __future__ import annotations

import json
import socket
from typing import Any

import h11


class Wire:
    """One connection to the gateway (or to an engine's unix socket)."""

    def __init__(self, port: int | None = None, *, unix: str | None = None, timeout: float = 10.0) -> None:
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port or 0), timeout=timeout)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> None:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        sent = {"Host": "docker", **(headers or {})}
        if body is not None:
            sent.setdefault("Content-Length", str(len(body)))
        data = self.conn.send(h11.Request(method=method, target=target, headers=list(sent.items())))
        if body:
            data += self.conn.send(h11.Data(data=body))
        if "Transfer-Encoding" not in sent:
            data += self.conn.send(h11.EndOfMessage())
        self.sock.sendall(data)

    def _next(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
                continue
            return event

    def head(self) -> tuple[int, dict[str, str]]:
        """The response head (101 included): status and headers with lower-case names."""
        event = self._next()
        assert isinstance(event, h11.Response | h11.InformationalResponse), event
        return event.status_code, {k.decode().lower(): v.decode() for k, v in event.headers}

    def body(self) -> bytes:
        parts = []
        while isinstance(event := self._next(), h11.Data):
            parts.append(bytes(event.data))
        assert isinstance(event, h11.EndOfMessage), event
        return b"".join(parts)

    def next_data(self) -> bytes:
        event = self._next()
        assert isinstance(event, h11.Data), event
        return bytes(event.data)

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.send(method, target, headers, body)
        status, response_headers = self.head()
        return status, response_headers, self.body()

    def json(self, method: str, target: str, headers: dict[str, str] | None = None, body: Any = None) -> Any:
        raw = None if body is None else json.dumps(body).encode()
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if raw is not None else {})}
        status, _, reply = self.request(method, target, sent, raw)
        return status, json.loads(reply) if reply else None

    def raw_rest(self) -> tuple[bytes, bool]:
        """After a hijack: bytes h11 already read past the head."""
        return self.conn.trailing_data

    def read_until_closed(self, already: bytes = b"") -> bytes:
        data = bytearray(already)
        while chunk := self.sock.recv(65536):
            data += chunk
        return bytes(data)


def demux(stream: bytes) -> bytes:
    """The payload of a multiplexed attach/logs stream (8-byte frame headers)."""
    out = bytearray()
    while len(stream) >= 8:
        size = int.from_bytes(stream[4:8], "big")
        out += stream[8 : 8 + size]
        stream = stream[8 + size :]
    return bytes(out)
