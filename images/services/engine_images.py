"""Image workflows for the REST API: list, inspect, history, tag, remove, prune, export, load, search.

Every engine call is admitted first (hosts.admission); engine failures surface as hosts.engine errors
carrying the engine's message.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync

from hosts.access import Caller
from hosts.admission import admit, admit_image_load
from hosts.engine import Conflict, EngineError, EngineTarget, InvalidRequest, async_client, open_engine
from hosts.engine.client import send, send_json
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.engine.request import EngineRequest, Kind, check_reference
from hosts.models import Host
from hosts.visibility import Scope, hide_environment
from images.models import Registry
from images.registry import RegistryError, matching_registry
from images.registry import search as registry_search

NONE_TAG = "<none>:<none>"
LOAD_SPOOL_IN_MEMORY = 16 << 20  # a larger archive being loaded waits in a temporary file
NONE_DIGEST = "<none>@<none>"


class ImageInUse(Conflict):
    """Removing the image would break containers; `containers` lists the ones the caller may see."""

    code = "image_in_use"

    def __init__(self, message: str, *, host: str, containers: list[dict[str, str]], hidden: int) -> None:
        super().__init__(message, host=host, engine_status=409)
        self.containers = containers
        self.hidden = hidden

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "containers": self.containers, "hidden_containers": self.hidden}


@dataclass(frozen=True)
class HostFailure:
    host: Host
    message: str
    error: EngineError  # what the host answered (HostUnreachable: 503), to raise where one host was asked


def _engine(host: Host) -> Any:
    return open_engine(EngineTarget.of(host))


def _created(value: Any) -> str | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return None


def _users(who: Caller, host: Host, containers: list[dict[str, Any]]) -> dict[str, tuple[list[Any], int]]:
    """Containers by image id: the ones the caller may see, and how many others there are."""
    users: dict[str, tuple[list[Any], int]] = {}
    scope = Scope.of(who, host)
    for container in containers:
        seen, hidden = users.setdefault(container.get("ImageID", ""), ([], 0))
        if scope.sees(container.get("Labels")):
            name = (container.get("Names") or ["/"])[0].lstrip("/")
            seen.append({"id": container["Id"], "name": name, "state": container.get("State", "")})
        else:
            users[container.get("ImageID", "")] = (seen, hidden + 1)
    return users


def summary(
    who: Caller, host: Host, image: dict[str, Any], users: dict[str, tuple[list[Any], int]]
) -> dict[str, Any]:
    tags = [tag for tag in image.get("RepoTags") or [] if tag != NONE_TAG]
    digests = [digest for digest in image.get("RepoDigests") or [] if digest != NONE_DIGEST]
    seen, hidden = users.get(image["Id"], ([], 0))
    return {
        "host": host.pk,
        "host_name": host.name,
        "id": image["Id"],
        "short_id": image["Id"].removeprefix("sha256:")[:12],
        "repo_tags": tags,
        "repo_digests": digests,
        "size": image.get("Size") or 0,
        "created": _created(image.get("Created")),
        "labels": image.get("Labels") or {},
        "dangling": not tags,
        "containers": seen,
        "containers_hidden": hidden,
    }


def _matches(item: dict[str, Any], text: str) -> bool:
    text = text.lower()
    return text in item["id"] or any(text in tag.lower() for tag in item["repo_tags"] + item["repo_digests"])


async def _list_one(host: Host, filters: dict[str, list[str]]) -> tuple[list[Any], list[Any]]:
    target = EngineTarget.of(host)
    query = {"filters": json.dumps(filters)} if filters else {}
    with translate_errors(host.name, connect_timeout=2, read_timeout=20):
        async with async_client(target, read_timeout=20) as client:
            images, containers = await asyncio.gather(
                client.get("/images/json", params=query), client.get("/containers/json", params={"all": "1"})
            )
        raise_for_status(images, host.name)
        raise_for_status(containers, host.name)
        return list(images.json()), list(containers.json())


def list_images(
    who: Caller, hosts: list[Host], filters: dict[str, list[str]], text: str = ""
) -> tuple[list[dict[str, Any]], list[HostFailure]]:
    """Images of the given hosts (asked concurrently), newest first; a down host is reported, not fatal."""
    for host in hosts:
        admit(who, host, EngineRequest.build("GET", "/images/json"))

    async def gather() -> list[tuple[list[Any], list[Any]] | BaseException]:
        return await asyncio.gather(*(_list_one(host, filters) for host in hosts), return_exceptions=True)

    items: list[dict[str, Any]] = []
    failures: list[HostFailure] = []
    for host, result in zip(hosts, async_to_sync(gather)(), strict=True):
        if isinstance(result, EngineError):
            failures.append(HostFailure(host, result.message, result))
            continue
        if isinstance(result, BaseException):
            raise result
        images, containers = result
        users = _users(who, host, containers)
        items.extend(
            item
            for item in (summary(who, host, image, users) for image in images)
            if not text or _matches(item, text)
        )
    items.sort(key=lambda item: (item["created"] or "", item["host_name"]), reverse=True)
    return items, failures


def inspect_image(who: Caller, host: Host, ref: str) -> dict[str, Any]:
    request = admit(who, host, EngineRequest.build("GET", "/images/{image}/json", ref))
    with _engine(host) as client:
        details: dict[str, Any] = send_json(client, request)
        containers = client.api.containers(all=True, filters={"ancestor": details["Id"]})
    seen, hidden = _users(who, host, containers).get(details["Id"], ([], 0))
    if not Scope.of(who, host).secrets:
        hide_environment(details)  # a committed image keeps its container's environment
    return {**details, "UsedBy": seen, "UsedByHidden": hidden}


def image_history(who: Caller, host: Host, ref: str) -> list[dict[str, Any]]:
    request = admit(who, host, EngineRequest.build("GET", "/images/{image}/history", ref))
    with _engine(host) as client:
        return list(send_json(client, request) or [])


def tag_image(who: Caller, host: Host, ref: str, repository: str, tag: str) -> str:
    check_reference(Kind.IMAGE, f"{repository}:{tag}", "repository")
    query = {"repo": repository, "tag": tag}
    request = admit(who, host, EngineRequest.build("POST", "/images/{image}/tag", ref, query=query))
    with _engine(host) as client:
        send(client, request)
    return f"{repository}:{tag}"


def remove_image(
    who: Caller, host: Host, ref: str, *, force: bool = False, noprune: bool = False
) -> list[Any]:
    """Remove an image; without `force`, refuse while containers use it and name them."""
    query = {"force": force, "noprune": noprune}
    request = admit(who, host, EngineRequest.build("DELETE", "/images/{image}", ref, query=query))
    with _engine(host) as client:
        image_id = send_json(client, EngineRequest.build("GET", "/images/{image}/json", ref))["Id"]
        if not force:
            users = _users(who, host, client.api.containers(all=True))
            seen, hidden = users.get(image_id, ([], 0))
            if seen or hidden:
                names = ", ".join(c["name"] for c in seen) + (
                    f" and {hidden} more" if hidden and seen else ""
                )
                count = len(seen) + hidden
                raise ImageInUse(
                    f"Image {ref!r} is used by {count} container{'s' if count > 1 else ''}"
                    f"{': ' + names if seen else ''}; remove them first, or remove with force=true.",
                    host=host.name,
                    containers=seen,
                    hidden=hidden,
                )
        return list(send_json(client, request) or [])


def prune_images(who: Caller, host: Host, *, dangling_only: bool = True) -> dict[str, Any]:
    """Remove dangling images, or every image no container uses (host admins)."""
    filters = json.dumps({"dangling": ["true" if dangling_only else "false"]})
    request = admit(who, host, EngineRequest.build("POST", "/images/prune", query={"filters": filters}))
    with _engine(host) as client:
        result: dict[str, Any] = send_json(client, request)
    result["ImagesDeleted"] = result.get("ImagesDeleted") or []
    return result


def export_image(who: Caller, host: Host, ref: str) -> Iterator[bytes]:
    """`docker save`: the image as a tar stream; a missing image raises before the first byte."""
    request = admit(who, host, EngineRequest.build("GET", "/images/{image}/get", ref))
    stack = ExitStack()
    client = stack.enter_context(_engine(host))
    try:
        chunks = send(client, request, stream=True).iter_content(256 * 1024)
    except BaseException as exc:
        # Through the client's context, so the failure becomes an EngineError (a 404 here).
        if not stack.__exit__(type(exc), exc, exc.__traceback__):
            raise
        raise  # pragma: no cover - the context never swallows an error

    def stream() -> Iterator[bytes]:
        with stack:
            yield from chunks

    return stream()


def load_images(who: Caller, host: Host, chunks: Iterable[bytes]) -> list[str]:
    """`docker load` from a tar stream; returns what the engine loaded (errors inside its 200 included).

    The archive is spooled first (memory, then a temporary file): the tags it would set are checked before
    the engine sees a byte (hosts.admission.admit_image_load), and that same archive is then sent."""
    load = EngineRequest.build("POST", "/images/load", query={"quiet": "1"}, content_type="application/x-tar")
    request = admit(who, host, load)
    loaded: list[str] = []
    with tempfile.SpooledTemporaryFile(max_size=LOAD_SPOOL_IN_MEMORY) as archive, _engine(host) as client:
        for chunk in chunks:
            archive.write(chunk)
        archive.seek(0)
        admit_image_load(who, host, archive)
        response = send(client, request, stream=True, data=archive)
        for line in client.api._stream_helper(response, decode=True):
            if line.get("error") or line.get("errorDetail"):
                detail = line.get("errorDetail") or {}
                raise InvalidRequest(str(detail.get("message") or line.get("error")), host=host.name)
            text = str(line.get("stream") or "").strip()
            if text:
                loaded.append(text)
    return loaded


def search(who: Caller, host: Host, term: str, limit: int = 25) -> list[dict[str, Any]]:
    """A known registry's repositories for `registry/term`; otherwise the engine's own (Docker Hub) search."""
    found = search_known_registry(who, term, limit)
    if found is not None:
        return found
    query = {"term": term, "limit": limit}
    request = admit(who, host, EngineRequest.build("GET", "/images/search", query=query))
    with _engine(host) as client:
        return list(send_json(client, request) or [])


def search_known_registry(who: Caller, term: str, limit: int = 25) -> list[dict[str, Any]] | None:
    """The repositories matching `registry/term` when `registry` is one `who` may use, else None."""
    if "/" not in term:
        return None
    registry = matching_registry(Registry.objects.usable_by(who.user).prefetch_related("teams"), term)
    if registry is None or not term.lower().startswith(registry.address + "/"):
        return None
    try:
        return registry_search(registry, term.split("/", 1)[1], limit)
    except RegistryError as exc:
        raise EngineError(exc.message, host=registry.name, engine_status=exc.status) from exc


def gateway_search(who: Caller, host: Host, query: dict[str, list[str]]) -> list[dict[str, Any]] | None:
    """The gateway's `GET /images/search` (hosts.gateway.local): `docker search localhost:5000/web` reads
    that registry's catalog; other terms (None) go to the engine."""
    term = (query.get("term") or [""])[0]
    try:
        limit = max(1, min(int((query.get("limit") or ["25"])[0]), 100))
    except ValueError:
        limit = 25
    return search_known_registry(who, term, limit)
