"""One request through the gateway: admission, the round trip to the engine, and the relay back.

Response heads go to the client the moment the engine sends them (`docker run` waits for /wait's head
before it sends /start) and bodies are relayed as they arrive, never collected, except the list responses
filtered for callers below admin. Large bodies (logs, export, archives) are relayed byte for byte on an
engine connection of their own; attach and exec switch to a raw spliced stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING

import h11
from django.utils import timezone

from hosts import access, admission, policy, visibility
from hosts.engine import EngineError

from . import checks, conf, filtering, http, local, routing, splice, streams
from .checks import AuditNote, Resolved
from .http import ClientGone, EngineSide
from .splice import stop_tasks

if TYPE_CHECKING:
    from .connection import ClientConnection

logger = logging.getLogger("hosts.gateway")
_ENGINE_FAILURES = (ConnectionError, OSError, TimeoutError, h11.ProtocolError)


class EngineGone(Exception):
    """The engine connection failed or closed in the middle of a response."""


def _has_body(request: h11.Request) -> bool:
    if http.header(request.headers, b"transfer-encoding") is not None:
        return True
    length = http.header(request.headers, b"content-length")
    return length is not None and int(length) > 0


def _is_load(target: routing.Target) -> bool:
    route = target.request.match.route
    return route is not None and route.template == "/images/load"


class Exchange:
    """One request and its response on a client connection."""

    def __init__(self, conn: ClientConnection, request: h11.Request) -> None:
        self.conn, self.client, self.request = conn, conn.client, request
        self.method = request.method.decode("ascii", "replace")
        self.started = time.monotonic()
        self.started_at = timezone.now()  # audit rows are ordered by when their request began
        self.status = 0
        self.user = "-"
        self.note: AuditNote | None = None
        self.hijacking = False
        self.output: splice.Output | None = None  # what a hijacked stream carries (for its last line)
        self.keep_client = True
        self.reader: asyncio.Task[None] | None = None
        self.body_done = asyncio.Event()  # the reader is past the request body (read, or failed)

    @property
    def log_path(self) -> str:
        return self.request.target.split(b"?", 1)[0].decode("ascii", "replace")

    async def run(self) -> bool:
        """Serve the request; True when the client connection can carry another one."""
        try:
            return await self._run() and self.keep_client
        except ClientGone:
            return False
        except h11.RemoteProtocolError as exc:  # a malformed request body
            await self.reply(400, {"message": f"dockerweb gateway: bad request: {exc}"})
            return False

    async def reply(self, status: int, payload: http.Json, extra: http.Headers | None = None) -> bool:
        """Answer without the engine; True when the connection can carry another request."""
        self.status = status
        if not self.client.can_reply:
            return False
        response, body = http.json_reply(status, payload, extra or [])
        await http.send_reply(self.client, self.method, response, body)
        if self.client.conn.their_state is h11.SEND_BODY:
            return await self.client.drain_body()
        return self.client.reusable

    async def _run(self) -> bool:
        try:
            target = routing.parse_target(self.request.target, self.method)
        except routing.BadTarget as exc:
            if exc.host_name:  # a request line for a host that no engine would read as we do: a refusal
                credentials = self.conn.credentials(http.header(self.request.headers, b"authorization"))
                await self.conn.gateway.run_sync(
                    checks.audit_bad_target, credentials, exc, self.method, self.request.target,
                    self.conn.source_ip, self.started_at,
                )  # fmt: skip
            return await self.reply(exc.status, {"message": exc.message})
        endpoint = routing.classify(self.method, target.path)
        credentials = self.conn.credentials(http.header(self.request.headers, b"authorization"))
        raw_type = http.header(self.request.headers, b"content-type")
        content_type = raw_type.decode("latin-1") if raw_type is not None else None
        run_sync = self.conn.gateway.run_sync
        body: bytes | None = None
        received = b""
        try:
            if admission.needs_body(self.method, target.path):
                resolved = await run_sync(checks.resolve, credentials, target)
                self.user = resolved.who.user.get_username()
                read = await self.client.read_body(policy.MAX_BODY_BYTES, conf.REQUEST_TIMEOUT)
                if read is None:
                    limit = policy.MAX_BODY_BYTES
                    return await self.reply(413, {"message": f"The request body exceeds {limit} bytes."})
                received = read
                request = replace(target.request, content_type=content_type, body=received)
                admitted = await run_sync(checks.admit, resolved, request)
                body = admitted.body
            else:
                resolved, admitted = await run_sync(
                    checks.resolve_and_admit, credentials, target, content_type
                )
            # What admission returned is what the engine gets (its path and query; the body above).
            target = replace(target, request=admitted)
        except checks.Unauthorized as exc:
            extra = [(b"WWW-Authenticate", b'Bearer realm="dockerweb"')]
            return await self.reply(401, {"message": exc.message}, extra)
        except checks.Refused as exc:
            if exc.resolved is not None:
                await self._audit_refusal(exc, exc.resolved, endpoint, target, received, content_type)
            return await self.reply(exc.status, exc.payload)
        except EngineError as exc:
            return await self.reply(502, {"message": f"dockerweb gateway: {exc}"})
        except (ClientGone, h11.ProtocolError):
            raise
        except Exception:
            logger.exception("gateway: admitting %s %s failed", self.method, self.log_path)
            return await self.reply(
                500, {"message": "dockerweb gateway: internal error; see the gateway log."}
            )
        self.user = resolved.who.user.get_username()
        archive: IO[bytes] | None = None
        if _is_load(target) and access.policy_applies(resolved.who, resolved.host):  # role known: no query
            # The tags a load sets are in its archive: read it whole (spooled) and check them first.
            archive = await self._spool_body(conf.MAX_LOAD_BYTES)
            if archive is None:
                limit = conf.MAX_LOAD_BYTES >> 20
                return await self.reply(413, {"message": f"An image archive over {limit} MiB is refused."})
            try:
                await run_sync(checks.admit_load, resolved, archive)
            except checks.Refused as exc:
                archive.close()
                await self._audit_refusal(exc, resolved, endpoint, target, b"", content_type)
                return await self.reply(exc.status, exc.payload)
        answer = local.find(self.method, endpoint.canonical)
        if answer is not None:
            try:
                answered = await run_sync(answer, resolved.who, resolved.host, target.query)
            except EngineError as exc:
                return await self.reply(502, {"message": f"dockerweb gateway: {exc}"})
            if answered is not None:
                return await self.reply(200, answered)
        if endpoint.audited:
            self.note = AuditNote(
                resolved.who,
                resolved.host,
                endpoint,
                target.query,
                self.conn.source_ip,
                body=checks.json_body(received, content_type),
                started_at=self.started_at,
            )
        token_id = resolved.token_id
        if not self.conn.gateway.acquire(token_id):
            cap = self.conn.gateway.max_streams_per_token
            message = (
                f"Your token already has {cap} requests or streams open through the gateway; close some."
            )
            return await self.reply(429, {"message": message})
        try:
            return await self._relay(resolved, target, endpoint, body, archive)
        finally:
            if archive is not None:
                archive.close()
            self.conn.gateway.release(token_id)
            if self.note is not None:
                self.note.duration_ms = (time.monotonic() - self.started) * 1000
                self.note.status = self.note.status or self.status or None
                with contextlib.suppress(Exception):
                    await run_sync(self.note.record)

    async def _audit_refusal(
        self,
        exc: checks.Refused,
        resolved: Resolved,
        endpoint: routing.Endpoint,
        target: routing.Target,
        body: bytes,
        content_type: str | None,
    ) -> None:
        note = AuditNote(
            resolved.who,
            resolved.host,
            endpoint,
            target.query,
            self.conn.source_ip,
            body=checks.json_body(body, content_type),
            status=exc.status,
            detail=exc.detail,
            duration_ms=(time.monotonic() - self.started) * 1000,
            started_at=self.started_at,
        )
        note.outcome = checks.Outcome.DENIED
        await self.conn.gateway.run_sync(note.record)

    async def _relay(
        self,
        resolved: Resolved,
        target: routing.Target,
        endpoint: routing.Endpoint,
        body: bytes | None,
        archive: IO[bytes] | None = None,
    ) -> bool:
        upgrade = http.header(self.request.headers, b"upgrade")
        # Lists, inspects and events are rewritten for every caller (owner labels are dockerweb's).
        bulk = endpoint.bulk and endpoint.listing is None and upgrade is None
        streaming = body is None and archive is None and _has_body(self.request)
        try:
            engine, head = await self._start(resolved, target, body, upgrade, bulk, streaming, archive)
        except EngineGone as exc:
            return await self.reply(
                502, {"message": f"dockerweb gateway: host {resolved.host.name!r}: {exc}"}
            )
        respond = asyncio.create_task(self._respond(engine, head, resolved, endpoint, bulk))
        self.reader = asyncio.create_task(self._read_client(engine, streaming))
        # Re-checked until it ends: `respond` is cancelled when its token, user or grant is gone.
        credentials = self.conn.credentials(http.header(self.request.headers, b"authorization"))
        watched = self.conn.gateway.streams.watch(credentials, target, respond)
        reusable = False
        failure: Exception | None = None
        try:
            await asyncio.wait({respond, self.reader}, return_when=asyncio.FIRST_COMPLETED)
            if not respond.done() and not self.hijacking:
                respond.cancel()  # the client is gone (or broke off its request body): stop relaying
            try:
                reusable = await respond
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                if watched.ended is not None:
                    raise ClientGone(await self._access_ended(*watched.ended)) from None
                raise ClientGone("the client went away") from None
            except (EngineGone, *_ENGINE_FAILURES) as exc:
                failure = exc
        finally:
            self.conn.gateway.streams.forget(watched)
            await stop_tasks(respond, self.reader)
            await self.conn.done_with(engine, reusable)
        if failure is None:
            return self.client.reusable
        if self.client.can_reply and not self.status:  # nothing sent yet: say what happened
            name = resolved.host.name
            return await self.reply(502, {"message": f"dockerweb gateway: host {name!r}: {failure}"})
        raise ClientGone(f"the engine failed mid-response: {failure}") from failure

    async def _access_ended(self, status: int, message: str) -> str:
        """The caller's access ended mid-request (token, user or grant): tell the client where the protocol
        lets us (an error reply before any response, a line on a raw hijacked stream; a body under way
        just ends), then the connection closes. Returns what the log says."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                if self.client.can_reply and not self.status:
                    self.status = status
                    response, body = http.json_reply(status, {"message": f"dockerweb gateway: {message}"})
                    await http.send_reply(self.client, self.method, response, body)
                elif self.output is not None and (line := self.output.farewell(message)):
                    await self.client.stream.send(line)
        return f"access ended: {message}"

    async def _start(
        self,
        resolved: Resolved,
        target: routing.Target,
        body: bytes | None,
        upgrade: bytes | None,
        bulk: bool,
        streaming: bool,
        archive: IO[bytes] | None = None,
    ) -> tuple[EngineSide, h11.Event | None]:
        """Send the request head (and a buffered body or spooled archive); returns the engine and, unless
        the body is still to stream, the response head. A reused connection the engine has dropped is
        retried once."""
        content_length = http.header(self.request.headers, b"content-length")
        if archive is not None:
            length: int | None = archive.seek(0, 2)
            archive.seek(0)
        elif body is not None:
            length = len(body)
        elif streaming and content_length is not None:
            length = int(content_length)
        else:
            length = None  # no body, or a chunked one (to_engine keeps the chunked framing)
        headers = http.to_engine(self.request, upgrade=upgrade, close=bulk, length=length)
        request = h11.Request(method=self.request.method, target=target.engine_target, headers=headers)
        for attempt in (1, 2):
            try:
                # Connections that may end hijacked or closed, or carry a body that cannot be resent, are new.
                fresh = bulk or upgrade is not None or streaming or attempt > 1
                engine = await self.conn.engine_for(resolved.engine, fresh=fresh)
            except (*_ENGINE_FAILURES, ValueError) as exc:
                raise EngineGone(f"cannot reach its engine: {exc}") from exc
            reused = engine.used
            try:
                if streaming:
                    await engine.send(request)
                    return engine, None
                if archive is not None:
                    archive.seek(0)  # again on a retried connection
                    await engine.send(request)
                    while chunk := archive.read(conf.READ_CHUNK):
                        await engine.send(h11.Data(data=chunk))
                    await engine.send(h11.EndOfMessage())
                    return engine, await self._head(engine)
                await engine.send(request, *([h11.Data(data=body)] if body else []), h11.EndOfMessage())
                return engine, await self._head(engine)
            except _ENGINE_FAILURES as exc:
                await self.conn.done_with(engine, False)
                if not reused or attempt > 1:
                    raise EngineGone(f"the engine connection failed: {exc}") from exc
        raise AssertionError("unreachable")

    @staticmethod
    async def _head(engine: EngineSide) -> h11.Event:
        while True:
            event = await engine.next_event()
            if isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                continue  # 100 Continue and the like are for us, not for the client
            if isinstance(event, h11.Response | h11.InformationalResponse):
                return event
            raise EngineGone("the engine closed the connection without answering")

    async def _spool_body(self, limit: int) -> IO[bytes] | None:
        """The whole request body in a spooled temporary file, or None when it is longer than `limit`."""
        archive = tempfile.SpooledTemporaryFile(max_size=conf.MAX_SPOOLED_IN_MEMORY)  # noqa: SIM115
        size = 0
        while self.client.conn.their_state is h11.SEND_BODY:
            event = await self.client.next_body_event(conf.REQUEST_TIMEOUT)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    archive.close()
                    return None
                archive.write(event.data)
        archive.seek(0)
        return archive

    async def _read_client(self, engine: EngineSide, streaming: bool) -> None:
        """Stream the request body to the engine (if it was not buffered), then watch for the client
        going away."""
        try:
            while self.client.conn.their_state is h11.SEND_BODY:
                event = await self.client.next_body_event(conf.REQUEST_TIMEOUT)
                if streaming:
                    await engine.send(event)
        finally:
            self.body_done.set()
        await self.client.watch_for_close()

    async def _respond(
        self,
        engine: EngineSide,
        head: h11.Event | None,
        resolved: Resolved,
        endpoint: routing.Endpoint,
        bulk: bool,
    ) -> bool:
        """Relay the response; True when the engine connection can be reused."""
        if head is None:
            head = await self._head(engine)
        if isinstance(head, h11.InformationalResponse):  # 101: attach, exec, BuildKit session
            await self._hijack(engine, head)
            return False
        assert isinstance(head, h11.Response)
        self.status = head.status_code
        framed = any(
            http.header(head.headers, name) is not None for name in (b"content-length", b"transfer-encoding")
        )
        if endpoint.hijacks and head.status_code == 200 and not framed:
            await self._hijack(engine, head)  # attach/exec without Upgrade: 200, then a raw stream
            return False
        success = 200 <= head.status_code < 300
        if success and endpoint.listing in filtering.BUFFERED:
            await self._send_filtered(engine, head, resolved, endpoint.listing or "")
        elif success and endpoint.listing == "events":
            await self._stream_events(engine, head, resolved)
        elif head.status_code >= 500 and not bulk:
            await self._send_filtered(engine, head, resolved, filtering.ENGINE_ERROR)
        elif bulk and framed:
            await self._relay_raw(engine, head)
            return False
        else:
            await self._relay_events(engine, head, endpoint)
        return engine.reusable

    async def _relay_events(self, engine: EngineSide, head: h11.Response, endpoint: routing.Endpoint) -> None:
        self.client.queue(
            h11.Response(status_code=head.status_code, headers=http.to_client(head), reason=head.reason)
        )
        note = self.note
        progress = note is not None and endpoint.progress and head.status_code < 400
        scanner = filtering.ProgressScanner() if progress else None
        kept: list[bytes] = []
        kept_size = 0
        while True:
            event = engine.poll()
            if event is None:
                await self.client.flush()  # about to wait for the engine: what we have goes out now
                event = await engine.next_event()
            if isinstance(event, h11.Data):
                if self.client.queue(event) >= conf.READ_CHUNK:
                    await self.client.flush()
                if scanner is not None and note is not None:
                    scanner.feed(event.data)
                    if scanner.error:  # noted at once: the CLI hangs up as soon as it reads the error
                        note.outcome, note.detail = checks.Outcome.FAILURE, scanner.error
                elif note is not None and kept_size < conf.MAX_AUDITED_RESPONSE_BYTES:
                    kept.append(event.data)
                    kept_size += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                await self.client.send(h11.EndOfMessage())
                break
            else:
                raise EngineGone("the engine closed the connection mid-response")
        if note is not None:
            checks.learn_from_response(note, head.status_code, b"".join(kept))
            if scanner is not None:
                scanner.finish()
                if scanner.error:
                    note.outcome, note.detail = checks.Outcome.FAILURE, scanner.error

    async def _relay_raw(self, engine: EngineSide, head: h11.Response) -> None:
        """Byte for byte: the engine's framing is valid for the client, and it closes the connection after
        this response (we asked it to), so nothing here parses the body."""
        headers = [*http.to_client(head, keep_framing=True), (b"Connection", b"close")]
        await self.client.send(
            h11.Response(status_code=head.status_code, headers=headers, reason=head.reason)
        )
        self.keep_client = False
        pending, _ = engine.conn.trailing_data
        if pending:
            await self.client.stream.send(pending)
        while data := await engine.stream.read(conf.READ_CHUNK):
            if len(data) < conf.COALESCE_BELOW:
                # The engine flushes every log line (200 MB of logs are 2 million writes): let them pile up
                # in the socket for a moment and take them in one read, for that much latency at most.
                data += await streams.read_after(engine.stream, conf.COALESCE_SECONDS, conf.READ_CHUNK)
            await self.client.stream.send(data)

    async def _send_filtered(
        self, engine: EngineSide, head: h11.Response, resolved: Resolved, kind: str
    ) -> None:
        parts: list[bytes] = []
        size = 0
        while isinstance(event := await engine.next_event(), h11.Data):
            size += len(event.data)
            if size > conf.MAX_FILTERED_BYTES:
                raise EngineGone(f"the {kind} list is larger than {conf.MAX_FILTERED_BYTES} bytes")
            parts.append(event.data)
        if not isinstance(event, h11.EndOfMessage):
            raise EngineGone("the engine closed the connection mid-response")
        raw = b"".join(parts)
        if kind == filtering.ENGINE_ERROR:
            status, body = filtering.engine_error(head.status_code, raw)
        else:
            status = head.status_code
            body = await filtering.filter_response(kind, raw, self._scope(resolved), resolved.engine)
        if self.note is not None:
            checks.learn_from_response(self.note, head.status_code, raw[: conf.MAX_AUDITED_RESPONSE_BYTES])
        headers = [(n, v) for n, v in http.to_client(head) if n.lower() != b"content-length"]
        headers.append((b"Content-Length", str(len(body)).encode()))
        self.status = status
        reason = head.reason if status == head.status_code else b""
        response = h11.Response(status_code=status, headers=headers, reason=reason)
        await http.send_reply(self.client, self.method, response, body)

    async def _stream_events(self, engine: EngineSide, head: h11.Response, resolved: Resolved) -> None:
        headers = [(n, v) for n, v in http.to_client(head) if n.lower() != b"content-length"]
        await self.client.send(
            h11.Response(status_code=head.status_code, headers=headers, reason=head.reason)
        )
        events = filtering.EventFilter.for_scope(self._scope(resolved), resolved.engine)
        while True:
            event = await engine.next_event()
            if isinstance(event, h11.Data):
                kept = await events.feed(event.data)
                if kept:
                    await self.client.send(h11.Data(data=kept))
            elif isinstance(event, h11.EndOfMessage):
                await self.client.send(h11.EndOfMessage())
                return
            else:
                raise EngineGone("the engine closed the connection mid-response")

    @staticmethod
    def _scope(resolved: Resolved) -> visibility.Scope:
        # The role was worked out once for this request (and team names loaded, in a thread): what
        # remains per object is ownership, answered from memory on the event loop.
        return visibility.Scope(resolved.who, resolved.host, resolved.role)

    async def _hijack(self, engine: EngineSide, head: h11.InformationalResponse | h11.Response) -> None:
        self.hijacking = True
        self.keep_client = False
        self.output = splice.Output(http.header(head.headers, b"content-type"), self.request.target)
        if self.reader is not None:
            # The engine answered, so the whole body is on its way: let the reader finish it (h11 sends a
            # 101 only once the request is complete). What it read ahead (stdin) is handed over below.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.body_done.wait(), conf.REQUEST_TIMEOUT)
            await stop_tasks(self.reader)
        self.status = head.status_code
        if self.note is not None:
            # Recorded as the session starts (a console open for hours shows in the audit log at once), and
            # before the client sees the 101: `docker run` sends /start right after it, and the log must
            # read attach, then start.
            self.note.status = head.status_code
            self.note.duration_ms = (time.monotonic() - self.started) * 1000
            note, self.note = self.note, None
            await self.conn.gateway.run_sync(note.record)
        if isinstance(head, h11.InformationalResponse):
            upgraded = h11.InformationalResponse(
                status_code=101, headers=list(head.headers.raw_items()), reason=head.reason
            )
            await self.client.send(upgraded)
        else:
            await self.client.stream.send(http.raw_head(head))
        to_engine, client_closed = self.client.conn.trailing_data
        to_client, _ = engine.conn.trailing_data
        await splice.splice(
            self.client.stream,
            engine.stream,
            to_engine=to_engine,
            client_closed=client_closed,
            to_client=to_client,
            output=self.output,
        )
