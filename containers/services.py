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
from hosts.access import Action, Caller
from hosts.admission import admit
from hosts.engine import EngineError, EngineTarget, async_client, open_engine
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.models import Host
from hosts.policy import Denied
from images.registry import credentials_for

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
LIFECYCLE_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
T = TypeVar("T")


@dataclass(frozen=True)
class HostFailure:
    host: Host
    message: str


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _admitted_body(
    who: Caller, host: Host, method: str, path: str, body: dict[str, Any], query: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Admit a JSON call; returns the body to send (the policy may add defaults and owner labels)."""
    raw = _json(body)
    params = {key: [str(value)] for key, value in (query or {}).items() if value is not None}
    forwarded = admit(who, host, method, path, params, "application/json", raw)
    return json.loads(forwarded) if forwarded is not None else body


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
            items.extend(
                _summary(host, item)
                for item in result
                if access.can_see_object(who, host, item.get("Labels"))
            )
    items.sort(key=lambda item: (-(item["created"] or 0), item["host_name"], item["name"]))
    return items, failures


def _engine(host: Host) -> Any:
    return open_engine(EngineTarget.of(host))


def inspect_container(who: Caller, host: Host, ref: str) -> dict[str, Any]:
    """`docker inspect`, with environment values hidden from callers below operator."""
    admit(who, host, "GET", f"/containers/{ref}/json", {}, None, b"")
    with _engine(host) as client:
        details: dict[str, Any] = client.api.inspect_container(ref)
    try:
        access.require(who, host, Action.VIEW_SECRETS)
    except access.AccessDenied:
        access.hide_environment(details)
    return details


def create_container(who: Caller, host: Host, body: dict[str, Any], name: str = "") -> dict[str, Any]:
    """Create from an engine create body; returns the engine's answer (Id, Warnings)."""
    query = {"name": name} if name else {}
    admitted = _admitted_body(who, host, "POST", "/containers/create", body, query)
    with _engine(host) as client:
        created: dict[str, Any] = client.api.create_container_from_config(admitted, name or None)
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
        details: dict[str, Any] = client.api.inspect_container(created["Id"])
    return details


def pull_if_missing(who: Caller, host: Host, image: str) -> None:
    """Pull `image` unless the engine has it (through the same admission as any pull)."""
    with _engine(host) as client:
        try:
            client.api.inspect_image(image)
            return
        except docker.errors.ImageNotFound:
            pass
        repository, _, tag = (
            image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
        )
        admit(who, host, "POST", "/images/create", {"fromImage": [repository], "tag": [tag]}, None, b"")
        # Always an explicit AuthConfig: without one the SDK would send this process's own docker login.
        credentials = credentials_for(who.user, image)
        for line in client.api.pull(repository, tag=tag, stream=True, decode=True, auth_config=credentials):
            if "error" in line:
                raise EngineError(str(line.get("error")), host=host.name)


def container_action(who: Caller, host: Host, ref: str, action: str, **params: Any) -> None:
    """start, stop (t), restart (t), kill (signal), pause, unpause."""
    if action not in LIFECYCLE_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    query = {key: [str(value)] for key, value in params.items() if value is not None}
    admit(who, host, "POST", f"/containers/{ref}/{action}", query, None, b"")
    _lifecycle(host, ref, action, params)


def _lifecycle(host: Host, ref: str, action: str, params: dict[str, Any]) -> None:
    with _engine(host) as client:
        api = client.api
        if action == "stop":
            api.stop(ref, timeout=params.get("t"))
        elif action == "restart":
            api.restart(ref, timeout=params.get("t") if params.get("t") is not None else 10)
        elif action == "kill":
            api.kill(ref, signal=params.get("signal") or "SIGKILL")
        else:
            getattr(api, action)(ref)


def remove_container(
    who: Caller, host: Host, ref: str, *, force: bool = False, volumes: bool = False
) -> None:
    admit(who, host, "DELETE", f"/containers/{ref}", {"force": [str(force)], "v": [str(volumes)]}, None, b"")
    _remove(host, ref, force, volumes)


def _remove(host: Host, ref: str, force: bool, volumes: bool) -> None:
    with _engine(host) as client:
        client.api.remove_container(ref, force=force, v=volumes)


BULK_CONCURRENCY = 8  # engine calls of one bulk request at a time (a stop can take its whole timeout)


def bulk_action(
    who: Caller, hosts: dict[int, Host], items: list[dict[str, Any]], verb: str, force: bool = False
) -> list[dict[str, Any]]:
    """One action (a lifecycle verb or "remove") on many containers, each `{"host": id, "id": ref}`; one
    result per item, in order. Admission runs first for all of them, here (it reads the database); the
    engine calls then run concurrently, so 200 stops take about as long as the slowest few, not their sum."""
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
                admit(who, host, "DELETE", f"/containers/{ref}", {"force": [str(force)]}, None, b"")
                calls.append((outcome, functools.partial(_remove, host, ref, force, False)))
            else:
                admit(who, host, "POST", f"/containers/{ref}/{verb}", {}, None, b"")
                calls.append((outcome, functools.partial(_lifecycle, host, ref, verb, {})))
        except (access.AccessDenied, Denied, EngineError) as exc:
            outcome["detail"] = getattr(exc, "message", str(exc))

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
    admit(who, host, "POST", f"/containers/{ref}/rename", {"name": [new_name]}, None, b"")
    with _engine(host) as client:
        client.api.rename(ref, new_name)


def container_top(who: Caller, host: Host, ref: str, ps_args: str = "") -> dict[str, Any]:
    admit(who, host, "GET", f"/containers/{ref}/top", {}, None, b"")
    with _engine(host) as client:
        result: dict[str, Any] = client.api.top(ref, ps_args=ps_args or None)
    return result


def container_changes(who: Caller, host: Host, ref: str) -> list[dict[str, Any]]:
    admit(who, host, "GET", f"/containers/{ref}/changes", {}, None, b"")
    with _engine(host) as client:
        return list(client.api.diff(ref) or [])


def prune_containers(who: Caller, host: Host) -> dict[str, Any]:
    """Remove every stopped container on the host (admins: it ignores ownership)."""
    admit(who, host, "POST", "/containers/prune", {}, None, b"")
    with _engine(host) as client:
        result: dict[str, Any] = client.api.prune_containers()
    return result


def _held_stream(host: Host, start: Callable[[Any], tuple[Iterator[bytes], T]]) -> tuple[Iterator[bytes], T]:
    """Start a streamed engine call; the engine client stays open until the returned stream ends.

    Errors before the first byte (no such container, host down) raise here, before a response starts.
    """
    stack = ExitStack()
    client = stack.enter_context(_engine(host))
    try:
        chunks, meta = start(client.api)
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
    admit(who, host, "GET", f"/containers/{ref}/logs", {}, None, b"")

    def start(api: Any) -> tuple[Iterator[bytes], None]:
        api.inspect_container(ref)  # a missing container is a 404 now, not a broken download later
        return api.logs(ref, stream=True, follow=False, **params), None

    return _held_stream(host, start)[0]


def archive_get(who: Caller, host: Host, ref: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
    """`docker cp` out of the container: a tar stream of `path`, and the path's stat."""
    admit(who, host, "GET", f"/containers/{ref}/archive", {"path": [path]}, None, b"")
    return _held_stream(host, lambda api: api.get_archive(ref, path))


def archive_put(who: Caller, host: Host, ref: str, path: str, data: Any) -> None:
    """`docker cp` into the container: extract a tar archive (bytes or a file) at `path`."""
    admit(who, host, "PUT", f"/containers/{ref}/archive", {"path": [path]}, "application/x-tar", b"")
    with _engine(host) as client:
        if not client.api.put_archive(ref, path, data):
            raise EngineError(f"the engine refused the archive for {path}", host=host.name)
