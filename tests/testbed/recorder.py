"""A recording proxy in front of a test engine's unix socket, and dockerd's own reading of what it relayed.

    with Recorder(testbed.engine1.socket_path, directory) as recorder:
        Host.objects.create(name="rec", url=recorder.unix_url, ...)
        ...
        for request in recorder.take():
            dockerd_view(request.method, request.target)

The proxy relays bytes both ways unchanged. It reads each request head (up to CRLFCRLF), records the
request line and headers exactly as received, and relays the body by its framing (Content-Length or
chunked); it reads each response head to know where the response ends. A 101, or a response with no
framing (dockerd's hijacked attach without Upgrade), turns the connection into a raw stream both ways.

`dockerd_view` decodes a request target as dockerd 20.10 does, written from Go's sources rather than from
ours: net/url's ParseRequestURI (query cut at the first '?', no fragment, control bytes refused,
percent-escapes decoded in the path), gorilla/mux's path cleaning (an unclean path is answered with a 301 to
the cleaned one) and routing on the decoded path in registration order, each route also under
`/v{version:[0-9.]+}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

_HEAD_LIMIT = 1 << 20
_CHUNK = 65536


@dataclass(frozen=True)
class Recorded:
    """One request as the engine received it: method, raw target and headers, in order."""

    method: str
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: str) -> bytes | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower().encode()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


class Recorder:
    """The proxy: a unix-socket listener relaying to `upstream`, run on its own thread and event loop."""

    def __init__(self, upstream: str, directory: str | os.PathLike[str]) -> None:
        self.upstream = upstream
        self.socket_path = str(Path(directory) / "recorder.sock")
        self._records: list[Recorded] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="engine-recorder", daemon=True)
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> Recorder:
        """Listen; return once the socket accepts connections."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Close the listener and every relayed connection, then end the thread."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def take(self) -> list[Recorded]:
        """Every request relayed since the last take, oldest first; the record starts empty again."""
        with self._lock:
            taken, self._records = self._records, []
        return taken

    async def _listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        self._server = await asyncio.start_unix_server(self._accept, path=self.socket_path, limit=_HEAD_LIMIT)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            engine_in, engine_out = await asyncio.open_unix_connection(self.upstream, limit=_HEAD_LIMIT)
        except OSError:
            client_out.close()
            self._connections.discard(task)
            return
        link = _Link()
        try:
            await asyncio.gather(
                self._requests(client_in, engine_out, link), _responses(engine_in, client_out, link)
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # a peer went away mid-message: both sides are closed below
        finally:
            for writer in (engine_out, client_out):
                writer.close()
            self._connections.discard(task)

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        while True:
            head = await _read_head(reader)
            if head is None:
                break
            method, target, headers = _parse_request_head(head)
            with self._lock:
                self._records.append(Recorded(method, target, headers))
            writer.write(head)
            await link.sent.put(method)
            await _relay_body(reader, writer, _request_framing(headers))
            # Wait for the answer's head: after a hijack the client's next bytes are a raw stream.
            if await link.answered.get():
                await _pipe(reader, writer)
                break
        with contextlib.suppress(OSError):
            writer.write_eof()


@dataclass
class _Link:
    """What one direction of a connection tells the other: requests sent, and whether each answer hijacked."""

    sent: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    answered: asyncio.Queue[bool] = field(default_factory=asyncio.Queue)


async def _responses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
    while True:
        head = await _read_head(reader)
        if head is None:
            break
        status, headers = _parse_response_head(head)
        writer.write(head)
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue: the final answer follows
        method = await link.sent.get()
        framing = _response_framing(method, status, headers)
        await link.answered.put(framing is None)
        if framing is None:  # hijacked
            await _pipe(reader, writer)
            break
        await _relay_body(reader, writer, framing)
    with contextlib.suppress(OSError):
        writer.write_eof()
    await link.answered.put(True)  # no answer is coming: let the request side drain to the end


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None


def _header_lines(head: bytes) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
    first, *rest = head[:-4].split(b"\r\n")
    headers = []
    for line in rest:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return first, tuple(headers)


def _parse_request_head(head: bytes) -> tuple[str, bytes, tuple[tuple[bytes, bytes], ...]]:
    first, headers = _header_lines(head)
    method, target, _ = first.split(b" ", 2)
    return method.decode("latin-1"), target, headers


def _parse_response_head(head: bytes) -> tuple[int, tuple[tuple[bytes, bytes], ...]]:
    first, headers = _header_lines(head)
    return int(first.split(b" ", 2)[1]), headers


def _get(headers: tuple[tuple[bytes, bytes], ...], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key.lower() == name), None)


_Framing = tuple[str, int]  # ("length", n) | ("chunked", 0) | ("close", 0)


def _request_framing(headers: tuple[tuple[bytes, bytes], ...]) -> _Framing:
    if (_get(headers, b"transfer-encoding") or b"").lower().endswith(b"chunked"):
        return ("chunked", 0)
    return ("length", int(_get(headers, b"content-length") or 0))


def _response_framing(method: str, status: int, headers: tuple[tuple[bytes, bytes], ...]) -> _Framing | None:
    """How the response body ends; None when the connection becomes a raw stream."""
    if status == 101:
        return None
    if method == "HEAD" or status in (204, 304):
        return ("length", 0)
    if (_get(headers, b"transfer-encoding") or b"").lower().endswith(b"chunked"):
        return ("chunked", 0)
    length = _get(headers, b"content-length")
    if length is not None:
        return ("length", int(length))
    return None  # ends when the engine closes: dockerd's hijacked attach/exec without Upgrade


async def _relay_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framing: _Framing) -> None:
    kind, length = framing
    if kind == "length":
        await _relay_exactly(reader, writer, length)
        return
    while True:  # chunked: size line, data, CRLF; a zero size ends it after the trailers
        size_line = await reader.readuntil(b"\r\n")
        writer.write(size_line)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                writer.write(trailer)
            writer.write(trailer)
            await writer.drain()
            return
        await _relay_exactly(reader, writer, size + 2)


async def _relay_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    while length > 0:
        data = await reader.read(min(length, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", length)
        writer.write(data)
        await writer.drain()
        length -= len(data)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


# --- dockerd's reading of a request target -------------------------------------------------------------


@dataclass(frozen=True)
class DockerdView:
    """What dockerd does with a request target.

    status: 400 (net/url refuses it), 301 (gorilla/mux redirects an unclean path; nothing else happens),
    404 (no route), or 0 (routed). For a routed request: the route template (as registered, `{name}` for
    the object), the object's kind and its decoded name (bytes: Go strings need not be UTF-8).
    """

    status: int
    path: bytes = b""  # decoded, version prefix stripped
    template: str = ""
    kind: str = ""
    name: bytes = b""


# dockerd 20.10's routes (moby api/server/router/{container,image,system,volume,build,network,...}),
# in registration order. Kinds: container, exec, image, network, volume.
_DOCKERD_ROUTES: tuple[tuple[str, str, str], ...] = (
    # container router
    ("GET", "/containers/json", ""),
    ("GET", "/containers/{name}/export", "container"),
    ("GET", "/containers/{name}/changes", "container"),
    ("GET", "/containers/{name}/json", "container"),
    ("GET", "/containers/{name}/top", "container"),
    ("GET", "/containers/{name}/logs", "container"),
    ("GET", "/containers/{name}/stats", "container"),
    ("GET", "/containers/{name}/attach/ws", "container"),
    ("GET", "/exec/{name}/json", "exec"),
    ("GET", "/containers/{name}/archive", "container"),
    ("HEAD", "/containers/{name}/archive", "container"),
    ("POST", "/containers/create", ""),
    ("POST", "/containers/{name}/kill", "container"),
    ("POST", "/containers/{name}/pause", "container"),
    ("POST", "/containers/{name}/unpause", "container"),
    ("POST", "/containers/{name}/restart", "container"),
    ("POST", "/containers/{name}/start", "container"),
    ("POST", "/containers/{name}/stop", "container"),
    ("POST", "/containers/{name}/wait", "container"),
    ("POST", "/containers/{name}/resize", "container"),
    ("POST", "/containers/{name}/attach", "container"),
    ("POST", "/containers/{name}/copy", "container"),
    ("POST", "/containers/{name}/exec", "container"),
    ("POST", "/exec/{name}/start", "exec"),
    ("POST", "/exec/{name}/resize", "exec"),
    ("POST", "/containers/{name}/rename", "container"),
    ("POST", "/containers/{name}/update", "container"),
    ("POST", "/containers/prune", ""),
    ("POST", "/commit", ""),
    ("PUT", "/containers/{name}/archive", "container"),
    ("DELETE", "/containers/{name}", "container"),
    # image router
    ("GET", "/images/json", ""),
    ("GET", "/images/search", ""),
    ("GET", "/images/get", ""),
    ("GET", "/images/{name}/get", "image"),
    ("GET", "/images/{name}/history", "image"),
    ("GET", "/images/{name}/json", "image"),
    ("POST", "/images/load", ""),
    ("POST", "/images/create", ""),
    ("POST", "/images/{name}/push", "image"),
    ("POST", "/images/{name}/tag", "image"),
    ("POST", "/images/prune", ""),
    ("DELETE", "/images/{name}", "image"),
    # system router
    ("GET", "/_ping", ""),
    ("HEAD", "/_ping", ""),
    ("GET", "/events", ""),
    ("GET", "/info", ""),
    ("GET", "/version", ""),
    ("GET", "/system/df", ""),
    ("POST", "/auth", ""),
    # volume router
    ("GET", "/volumes", ""),
    ("GET", "/volumes/{name}", "volume"),
    ("POST", "/volumes/create", ""),
    ("POST", "/volumes/prune", ""),
    ("DELETE", "/volumes/{name}", "volume"),
    # build and session routers
    ("POST", "/build", ""),
    ("POST", "/build/prune", ""),
    ("POST", "/build/cancel", ""),
    ("POST", "/session", ""),
    # distribution router
    ("GET", "/distribution/{name}/json", "image"),
    # network router (`{id:.+}` for GET, `{id:.*}` elsewhere)
    ("GET", "/networks", ""),
    ("GET", "/networks/", ""),
    ("GET", "/networks/{name+}", "network"),
    ("POST", "/networks/create", ""),
    ("POST", "/networks/{name}/connect", "network"),
    ("POST", "/networks/{name}/disconnect", "network"),
    ("POST", "/networks/prune", ""),
    ("DELETE", "/networks/{name}", "network"),
    # grpc router
    ("POST", "/grpc", ""),
)


def _mux_regex(template: str) -> re.Pattern[bytes]:
    # gorilla/mux: `{name:.*}` becomes `(?P<v0>.*)`, anchored at both ends, matched on the decoded path.
    regex = re.escape(template).replace(r"\{name\+\}", "(?P<name>.+)").replace(r"\{name\}", "(?P<name>.*)")
    return re.compile(f"^{regex}$".encode(), re.DOTALL)


_ROUTE_TABLE = [(method, template, kind, _mux_regex(template)) for method, template, kind in _DOCKERD_ROUTES]
_VERSIONED = re.compile(rb"^/v[0-9.]+(/.*)$", re.DOTALL)
_HEX = b"0123456789abcdefABCDEF"


def go_path_unescape(raw: bytes) -> bytes | None:
    """net/url's unescape in path mode: `%XX` becomes the byte, '+' stays; None where Go errs."""
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"%":
            pair = raw[i + 1 : i + 3]
            if len(pair) < 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                return None
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def go_path_clean(path: bytes) -> bytes:
    """Go's path.Clean for a rooted path: one '/' between elements, no '.', '..' eats its parent."""
    parts: list[bytes] = []
    for element in path.split(b"/"):
        if element in (b"", b"."):
            continue
        if element == b"..":
            if parts:
                parts.pop()
            continue
        parts.append(element)
    return b"/" + b"/".join(parts)


def mux_clean(path: bytes) -> bytes:
    """gorilla/mux's cleanPath: path.Clean, keeping a trailing slash."""
    if not path:
        return b"/"
    if not path.startswith(b"/"):
        path = b"/" + path
    cleaned = go_path_clean(path)
    if path.endswith(b"/") and cleaned != b"/":
        cleaned += b"/"
    return cleaned


def dockerd_view(method: str, target: bytes) -> DockerdView:
    """How dockerd 20.10 reads `method target` (see DockerdView)."""
    if any(byte < 0x20 or byte == 0x7F for byte in target):
        return DockerdView(400)  # net/url: invalid control character in URL
    raw_path = target.split(b"?", 1)[0]
    if not raw_path.startswith(b"/"):
        return DockerdView(400)
    path = go_path_unescape(raw_path)
    if path is None:
        return DockerdView(400)  # net/url: invalid URL escape
    if mux_clean(path) != path:
        return DockerdView(301, path)
    versioned = _VERSIONED.match(path)
    candidates = [versioned.group(1), path] if versioned else [path]
    for candidate in candidates:
        for route_method, template, kind, regex in _ROUTE_TABLE:
            if route_method != method:
                continue
            found = regex.match(candidate)
            if found is not None:
                name = found.group("name") if kind else b""
                return DockerdView(0, candidate, template.replace("{name+}", "{name}"), kind, name)
    return DockerdView(404, candidates[0])
