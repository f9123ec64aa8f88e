"""Container workflows for the REST API: every call is admitted (role, ownership, policy) then made.

Views call these; they never talk to an engine themselves. Engine failures surface as hosts.engine errors
(HostUnreachable, NotFound, Conflict, ...) carrying the engine's message.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
from asgiref.sync import async_to_sync

from hosts import access
from hosts.access import Caller
from hosts.admission import admit
from hosts.engine import EngineError, EngineTarget, async_client, open_engine
from hosts.engine.client import send, send_json
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.engine.request import BadReference, EngineRequest
from hosts.models import Host
from hosts.policy import Denied
from hosts.visibility import Scope
from images.registry import credentials_for, split_reference

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
JSON = "application/json"
LIFECYCLE_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
T = TypeVar("T")


@dataclass(frozen=True)
class HostFailure:
    host: Host
    message: str


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _summary(host: Host, item: dict[str, Any]) -> dict[str, Any]:
    labels = item.get("Labels") or {}
    names = item.get("Names") or []
    return {
        "host": host.pk,
        "host_name": host.name,
        "id": item["Id"],
        "name": names[0].lstrip("/") if names else item["Id"][:12],
        "image": item.get("Image", ""),
        "command": item.get("Command", ""),
        "state": item.get("State", ""),
        "status": item.get("Status", ""),
        "created": item.get("Created"),
        "ports": item.get("Ports") or [],
        "labels": labels,
        "compose_project": labels.get(COMPOSE_PROJECT, ""),
        "compose_service": labels.get(COMPOSE_SERVICE, ""),
        "owner": labels.get(access.OWNER_TEAM_LABEL) or labels.get(access.OWNER_USER_LABEL) or "",
    }


async def _list_one(host: Host, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    target = EngineTarget.of(host)
    query = {"all": "1", "filters": json.dumps(filters)} if filters else {"all": "1"}
    with translate_errors(host.name, connect_timeout=2, read_timeout=10):
        async with async_client(target) as client:
            response = await client.get("/containers/json", params=query)
        raise_for_status(response, host.name)
        return list(response.json())


def list_containers(
    who: Caller, hosts: list[Host], filters: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], list[HostFailure]]:
    """Containers of every given host (asked concurrently) the caller may see; a down host is reported."""

    async def gather() -> list[list[dict[str, Any]] | BaseException]:
        return await asyncio.gather(*(_list_one(host, filters) for host in hosts), return_exceptions=True)

    results = async_to_sync(gather)()
    items: list[dict[str, Any]] = []
    failures: list[HostFailure] = []
    for host, result in zip(hosts, results, strict=True):
        if isinstance(result, EngineError):
            failures.append(HostFailure(host, result.message))
        elif isinstance(result, BaseException):
            raise result
        else:
            scope = Scope.of(who, host)
            items.extend(_summary(host, item) for item in scope.restrict(result, lambda i: i.get("Labels")))
    items.sort(key=lambda item: (-(item["created"] or 0), item["host_name"], item["name"]))
    return items, failures


def _engine(host: Host) -> Any:
    return open_engine(EngineTarget.of(host))


def inspect_container(who: Caller, host: Host, ref: str) -> dict[str, Any]:
    """`docker inspect`, with environment values hidden from callers below operator."""
    request = admit(who, host, EngineRequest.build("GET", "/containers/{container}/json", ref))
    with _engine(host) as client:
        details: dict[str, Any] = send_json(client, request)
    return Scope.of(who, host).container(details)


def create_container(who: Caller, host: Host, body: dict[str, Any], name: str = "") -> dict[str, Any]:
    """Create from an engine create body; returns the engine's answer (Id, Warnings)."""
    create = EngineRequest.build(
        "POST", "/containers/create", query={"name": name or None}, content_type=JSON, body=_json(body)
    )
    request = admit(who, host, create)
    with _engine(host) as client:
        created: dict[str, Any] = send_json(client, request)
    return created


def run_container(
    who: Caller, host: Host, body: dict[str, Any], name: str = "", pull: bool = False
) -> dict[str, Any]:
    """Create and start (pulling the image first when asked and missing); returns the inspect."""
    if pull:
        pull_if_missing(who, host, str(body.get("Image", "")))
    created = create_container(who, host, body, name)
    container_action(who, host, created["Id"], "start")
    with _engine(host) as client:
        inspect = EngineRequest.build("GET", "/containers/{container}/json", created["Id"])
        details: dict[str, Any] = send_json(client, inspect)
    return details


def pull_if_missing(who: Caller, host: Host, image: str) -> None:
    """Pull `image` unless the engine has it (through the same admission as any pull)."""
    with _engine(host) as client:
        try:
            send(client, EngineRequest.build("GET", "/images/{image}/json", image, field="image"))
            return
        except docker.errors.NotFound:
            pass
        repository, tag = split_reference(image)
        pull = EngineRequest.build("POST", "/images/create", query={"fromImage": repository, "tag": tag})
        request = admit(who, host, pull)
        # Always explicit credentials: without them the engine gets none, never this process's own login.
        auth = docker.auth.encode_header(credentials_for(who.user, image) or {})
        response = send(client, request, stream=True, headers={"X-Registry-Auth": auth.decode()})
        for line in client.api._stream_helper(response, decode=True):
            if "error" in line:
                raise EngineError(str(line.get("error")), host=host.name)


def container_action(who: Caller, host: Host, ref: str, action: str, **params: Any) -> None:
    """start, stop (t), restart (t), kill (signal), pause, unpause."""
    if action not in LIFECYCLE_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    _lifecycle(host, admit(who, host, _lifecycle_request(ref, action, params)))


def _lifecycle_request(ref: str, action: str, params: dict[str, Any]) -> EngineRequest:
    query = dict(params)
    if action == "restart" and query.get("t") is None:
        query["t"] = 10
    if action == "kill":
        query["signal"] = query.get("signal") or "SIGKILL"
    return EngineRequest.build("POST", f"/containers/{{container}}/{action}", ref, query=query)


def _lifecycle(host: Host, request: EngineRequest) -> None:
    with _engine(host) as client:
        # A stop or restart waits up to `t` seconds for the container: read for that long and more.
        wait = next((int(value) for name, value in request.query if name == "t"), 0)
        send(client, request, timeout=_read_timeout(client, extra=wait) if wait else None)


def _read_timeout(client: Any, *, extra: float) -> Any:
    timeout = client.api.timeout
    if isinstance(timeout, tuple):
        return (timeout[0], (timeout[1] or 60) + extra)
    return (timeout or 60) + extra


def remove_container(
    who: Caller, host: Host, ref: str, *, force: bool = False, volumes: bool = False
) -> None:
    _send(host, admit(who, host, _remove_request(ref, force=force, volumes=volumes)))


def _remove_request(ref: str, *, force: bool, volumes: bool = False) -> EngineRequest:
    return EngineRequest.build("DELETE", "/containers/{container}", ref, query={"force": force, "v": volumes})


def _send(host: Host, request: EngineRequest) -> None:
    with _engine(host) as client:
        send(client, request)


BULK_CONCURRENCY = 8  # engine calls of one bulk request at a time (a stop can take its whole timeout)


def bulk_action(
    who: Caller, hosts: dict[int, Host], items: list[dict[str, Any]], verb: str, force: bool = False
) -> list[dict[str, Any]]:
    """One action (a lifecycle verb or "remove") on many containers, each `{"host": id, "id": ref}`; one
    result per item, in order (`refused` set where access, the policy or the grammar refused it). Admission
    runs first for all of them, here (it reads the database); the engine calls then run concurrently, so
    200 stops take about as long as the slowest few, not their sum."""
    results: list[dict[str, Any]] = []
    calls: list[tuple[dict[str, Any], Callable[[], None]]] = []
    for item in items:
        outcome: dict[str, Any] = {"host": item["host"], "id": item["id"], "ok": False}
        results.append(outcome)
        host, ref = hosts.get(item["host"]), item["id"]
        try:
            if host is None:
                raise access.AccessDenied(f"No host {item['host']} is visible to you.", not_found=True)
            if verb == "remove":
                request = admit(who, host, _remove_request(ref, force=force))
                calls.append((outcome, functools.partial(_send, host, request)))
            else:
                request = admit(who, host, _lifecycle_request(ref, verb, {}))
                calls.append((outcome, functools.partial(_lifecycle, host, request)))
        except (access.AccessDenied, Denied, BadReference) as exc:
            outcome["detail"], outcome["refused"] = exc.message, True
        except EngineError as exc:
            outcome["detail"] = exc.message

    def run(outcome: dict[str, Any], call: Callable[[], None]) -> None:
        try:
            call()
            outcome["ok"] = True
        except EngineError as exc:
            outcome["detail"] = exc.message

    if calls:
        with ThreadPoolExecutor(min(BULK_CONCURRENCY, len(calls)), thread_name_prefix="bulk") as pool:
            list(pool.map(lambda pair: run(*pair), calls))
    return results


def rename_container(who: Caller, host: Host, ref: str, new_name: str) -> None:
    rename = EngineRequest.build("POST", "/containers/{container}/rename", ref, query={"name": new_name})
    _send(host, admit(who, host, rename))


def container_top(who: Caller, host: Host, ref: str, ps_args: str = "") -> dict[str, Any]:
    top = EngineRequest.build("GET", "/containers/{container}/top", ref, query={"ps_args": ps_args or None})
    request = admit(who, host, top)
    with _engine(host) as client:
        result: dict[str, Any] = send_json(client, request)
    return result


def container_changes(who: Caller, host: Host, ref: str) -> list[dict[str, Any]]:
    request = admit(who, host, EngineRequest.build("GET", "/containers/{container}/changes", ref))
    with _engine(host) as client:
        return list(send_json(client, request) or [])


def prune_containers(who: Caller, host: Host) -> dict[str, Any]:
    """Remove every stopped container on the host (admins: it ignores ownership)."""
    request = admit(who, host, EngineRequest.build("POST", "/containers/prune"))
    with _engine(host) as client:
        result: dict[str, Any] = send_json(client, request)
    return result


def _held_stream(host: Host, start: Callable[[Any], tuple[Iterator[bytes], T]]) -> tuple[Iterator[bytes], T]:
    """Start a streamed engine call; the engine client stays open until the returned stream ends.

    Errors before the first byte (no such container, host down) raise here, before a response starts.
    """
    stack = ExitStack()
    client = stack.enter_context(_engine(host))
    try:
        chunks, meta = start(client)
    except BaseException:
        # Leave open_engine's context with the exception, so it is translated (NotFound -> 404), not a 500.
        if not stack.__exit__(*sys.exc_info()):
            raise
        raise AssertionError("unreachable: open_engine never swallows an exception") from None

    def stream() -> Iterator[bytes]:
        with stack:
            yield from chunks

    return stream(), meta


def container_logs(who: Caller, host: Host, ref: str, **params: Any) -> Iterator[bytes]:
    """Logs (stdout and/or stderr, demultiplexed; tail, since, until, timestamps), streamed."""
    query = {"stdout": True, "stderr": True, **params, "follow": False}
    request = admit(who, host, EngineRequest.build("GET", "/containers/{container}/logs", ref, query=query))

    def start(client: Any) -> tuple[Iterator[bytes], None]:
        # A missing container is a 404 now, not a broken download later; its tty decides the framing.
        inspect = EngineRequest.build("GET", "/containers/{container}/json", ref)
        tty = bool(send_json(client, inspect)["Config"].get("Tty"))
        return client.api._get_result_tty(True, send(client, request, stream=True), tty), None

    return _held_stream(host, start)[0]


def archive_get(who: Caller, host: Host, ref: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
    """`docker cp` out of the container: a tar stream of `path`, and the path's stat."""
    get = EngineRequest.build("GET", "/containers/{container}/archive", ref, query={"path": path})
    request = admit(who, host, get)

    def start(client: Any) -> tuple[Iterator[bytes], dict[str, Any]]:
        response = send(client, request, stream=True)
        encoded_stat = response.headers.get("x-docker-container-path-stat")
        stat = docker.utils.decode_json_header(encoded_stat) if encoded_stat else {}
        return response.iter_content(256 * 1024), stat

    return _held_stream(host, start)


def archive_put(who: Caller, host: Host, ref: str, path: str, data: Any) -> None:
    """`docker cp` into the container: extract a tar archive (bytes or a file) at `path`."""
    put = EngineRequest.build(
        "PUT", "/containers/{container}/archive", ref, query={"path": path}, content_type="application/x-tar"
    )
    request = admit(who, host, put)
    with _engine(host) as client:
        send(client, request, data=data)
