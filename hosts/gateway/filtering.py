"""What the gateway relays of lists, inspects and events, and what a progress stream ended with.

Which objects a caller sees is hosts.visibility's decision (a `Scope`: role once per request, then
ownership per object); this module applies it to the engine's JSON. Every caller, admins too, gets the
owner labels (`dockerweb.owner.*`) stripped, after the filtering that needed them: a client reads back
exactly the labels it wrote, so tools that reconcile state see no drift.

Label filters a client sends (`filters={"label": ["dockerweb.owner.team=x"]}`) pass to the engine as sent:
they select among the objects the engine has, and what comes back is filtered here like any list, so they
reveal nothing about objects the caller may not see (and admins may use them to find a team's objects).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import h11

from hosts import visibility
from hosts.engine import EngineTarget, errors
from hosts.visibility import Scope

from . import conf, http

Labels = visibility.Labels
Visible = Callable[[Labels], bool]
# Looks up the labels of an object on the engine (kind "containers", "networks" or "volumes"; None when
# it is gone): hosts.visibility.event_lookups names the objects an event's visibility depends on.
LabelLookup = Callable[[str, str], Awaitable[Labels]]
# Responses relayed whole, rewritten: lists and inspects that carry owned objects or owner labels.
BUFFERED = frozenset({"containers", "networks", "volumes", "df", "container", "network", "volume", "image"})
ENGINE_ERROR = "error"  # not a listing: an engine's 5xx, read whole to see whether it is the client's error
MAX_CACHED_OWNERS = 10_000
_ENGINE_FAILURES = (ConnectionError, OSError, TimeoutError, ValueError, h11.ProtocolError)


def _labels(item: Any, *path: str) -> Labels:
    for key in path:
        item = item.get(key) if isinstance(item, dict) else None
    return item if isinstance(item, dict) else None


def _visible_items(items: Any, visible: Visible, *label_path: str) -> Any:
    if not isinstance(items, list):
        return items
    return [item for item in items if visible(_labels(item, *label_path))]


def _strip_items(items: Any, *label_path: str) -> None:
    for item in items if isinstance(items, list) else ():
        visibility.strip_owner_labels(_labels(item, *label_path))


def filter_listing(
    kind: str,
    body: bytes,
    visible: Visible,
    *,
    secrets: bool = False,
    members: dict[str, Labels] | None = None,
) -> bytes:
    """The response `body` of a `kind` call (routing.Endpoint.listing) as the caller may read it: only the
    objects `visible` accepts, owner labels stripped; a container's inspect with its environment values
    hidden unless `secrets`; a network's inspect with only the containers in `members` (container id to
    labels) that `visible` accepts, unless `members` is None. Unchanged if it is not what `kind` says."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if kind in ("containers", "networks") and isinstance(data, list):
        data = _visible_items(data, visible, "Labels")
        _strip_items(data, "Labels")
    elif kind == "volumes" and isinstance(data, dict):
        data["Volumes"] = _visible_items(data.get("Volumes"), visible, "Labels")
        _strip_items(data["Volumes"], "Labels")
    elif kind == "df" and isinstance(data, dict):
        for key in ("Containers", "Volumes"):
            if key in data:
                data[key] = _visible_items(data[key], visible, "Labels")
        for key in ("Containers", "Volumes", "Images"):
            _strip_items(data.get(key), "Labels")
    elif kind in ("container", "image") and isinstance(data, dict) and isinstance(data.get("Config"), dict):
        if not secrets:
            visibility.hide_environment(data)
        for key in ("Config", "ContainerConfig"):
            if isinstance(data.get(key), dict):
                visibility.strip_owner_labels(data[key].get("Labels"))
    elif kind in ("network", "volume") and isinstance(data, dict):
        if kind == "network" and members is not None and isinstance(data.get("Containers"), dict):
            data["Containers"] = {
                ref: member
                for ref, member in data["Containers"].items()
                if ref in members and visible(members[ref])
            }
        visibility.strip_owner_labels(data.get("Labels"))
    else:
        return body
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


async def engine_labels(engine: EngineTarget, kind: str, ref: str) -> Labels:
    """The labels of an object on the engine (kind as for hosts.visibility.inspect_path), None if gone."""
    try:
        status, data = await http.engine_get_json(
            engine, visibility.inspect_path(kind, ref), conf.REQUEST_TIMEOUT
        )
    except _ENGINE_FAILURES:
        return None
    return visibility.labels_in(kind, data) if status == 200 else None


async def network_members(engine: EngineTarget, body: bytes) -> dict[str, Labels] | None:
    """The labels of the containers on the network whose inspect is `body`, by container id (None when
    they cannot be listed: then none is shown)."""
    try:
        network_id = json.loads(body).get("Id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(network_id, str) or not network_id:
        return None
    filters = quote(json.dumps({"network": [network_id]}), safe="")
    try:
        status, data = await http.engine_get_json(
            engine, f"/containers/json?all=1&filters={filters}", conf.REQUEST_TIMEOUT
        )
    except _ENGINE_FAILURES:
        return None
    if status != 200 or not isinstance(data, list):
        return None
    return {str(item.get("Id")): _labels(item, "Labels") for item in data if isinstance(item, dict)}


async def filter_response(kind: str, body: bytes, scope: Scope, engine: EngineTarget) -> bytes:
    """filter_listing for one caller, with what it needs from the engine (a network's members' labels)."""
    members = None
    if kind == "network" and not scope.admin:
        members = await network_members(engine, body) or {}
    return filter_listing(kind, body, scope.sees, secrets=scope.secrets, members=members)


def engine_error(status: int, body: bytes) -> tuple[int, bytes]:
    """The status and body to relay for an engine's error answer: an ambiguous id prefix (a 500 from
    dockerd for containers) is the client's error, a 400 naming the prefix as the REST API words it."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return status, body
    if not isinstance(message, str) or errors.ambiguous_prefix(message) is None:
        return status, body
    error = errors.error_for_status(status, message, "")
    return error.http_status, json.dumps({"message": str(error)}).encode() + b"\n"


class LineSplitter:
    """Splits a byte stream into lines, holding at most MAX_STREAM_LINE_BYTES of an unfinished one."""

    def __init__(self) -> None:
        self._partial = b""
        self._overlong = False

    def feed(self, data: bytes) -> list[bytes]:
        """The lines (with their newline) completed by `data`; an overlong line is dropped whole."""
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        complete = [line + b"\n" for line in lines]
        if self._overlong and complete:
            complete.pop(0)  # the tail of a line we already gave up on
            self._overlong = False
        if len(self._partial) > conf.MAX_STREAM_LINE_BYTES:
            self._partial, self._overlong = b"", True
        return complete

    def rest(self) -> bytes:
        """An unterminated last line, at the end of the stream."""
        rest, self._partial = self._partial, b""
        return b"" if self._overlong else rest


class EventFilter:
    """Keeps the /events lines the caller may see (hosts.visibility.event_visible, the rule the events
    websocket applies too), their owner labels stripped."""

    def __init__(self, visible: Visible, lookup: LabelLookup, *, admin: bool = False) -> None:
        self.visible, self.lookup, self.admin = visible, lookup, admin
        self.splitter = LineSplitter()
        # Owners looked up, by object: the destroy event of an object that is gone is decided as its
        # create was.
        self._looked_up: dict[visibility.Subject, Labels] = {}

    @classmethod
    def for_scope(cls, scope: Scope, engine: EngineTarget) -> EventFilter:
        """The filter of one caller's /events stream from `engine`."""

        async def lookup(kind: str, ref: str) -> Labels:
            return await engine_labels(engine, kind, ref)

        return cls(scope.sees, lookup, admin=scope.admin)

    async def feed(self, data: bytes) -> bytes:
        kept = [await self.keep(line) for line in self.splitter.feed(data)]
        return b"".join(kept)

    async def keep(self, line: bytes) -> bytes:
        """The line as the caller may see it: unchanged, owner labels stripped, or b"" when hidden."""
        try:
            event = json.loads(line)
        except ValueError:
            return b""
        if not isinstance(event, dict):
            return b""
        if not visibility.event_visible(event, await self._owners(event), self.visible, admin=self.admin):
            return b""
        actor = event.get("Actor")
        attributes = actor.get("Attributes") if isinstance(actor, dict) else None
        if not visibility.strip_owner_labels(attributes):
            return line
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"

    async def _owners(self, event: dict[str, Any]) -> list[Labels]:
        if self.admin:
            return []  # admins see every event: nothing to look up
        for subject in visibility.event_lookups(event):
            if subject not in self._looked_up:
                if len(self._looked_up) >= MAX_CACHED_OWNERS:
                    self._looked_up.clear()
                self._looked_up[subject] = await self.lookup(*subject)
        return visibility.event_owners(event, self._looked_up)


class ProgressScanner:
    """Watches a pull/push/build/load progress stream for the error the engine reports inside a 200."""

    def __init__(self) -> None:
        self.splitter = LineSplitter()
        self.error = ""

    def feed(self, data: bytes) -> None:
        for line in self.splitter.feed(data):
            self._scan(line)

    def finish(self) -> None:
        self._scan(self.splitter.rest())

    def _scan(self, line: bytes) -> None:
        if b'"error' not in line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        if isinstance(message, dict) and (message.get("error") or message.get("errorDetail")):
            detail = message.get("errorDetail")
            text = detail.get("message") if isinstance(detail, dict) else None
            self.error = str(text or message.get("error") or "error")
