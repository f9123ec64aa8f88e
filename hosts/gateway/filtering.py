"""What a caller below admin sees of lists and events, and what a progress stream ended with.

Ownership is hosts.access.owns() on the labels each object carries; the caller's role is checked once
per request before any of this runs (a non-admin's listing is filtered, an admin's passes untouched).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from hosts import access

from . import conf

Labels = dict[str, str] | None
Visible = Callable[[Labels], bool]
# Looks up the labels of a network or volume on the engine (None when it is gone).
LabelLookup = Callable[[str, str], Awaitable[Labels]]


def _labels(item: Any, *path: str) -> Labels:
    for key in path:
        item = item.get(key) if isinstance(item, dict) else None
    return item if isinstance(item, dict) else None


def _visible_items(items: Any, visible: Visible, *label_path: str) -> Any:
    if not isinstance(items, list):
        return items
    return [item for item in items if visible(_labels(item, *label_path))]


def filter_listing(kind: str, body: bytes, visible: Visible) -> bytes:
    """The list response `body` with only the objects the caller may see (for "container", an inspect:
    its environment values hidden); unchanged if it is not what `kind` says."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if kind in ("containers", "networks") and isinstance(data, list):
        data = _visible_items(data, visible, "Labels")
    elif kind == "volumes" and isinstance(data, dict):
        data["Volumes"] = _visible_items(data.get("Volumes"), visible, "Labels")
    elif kind == "container" and isinstance(data, dict) and isinstance(data.get("Config"), dict):
        access.hide_environment(data)
    elif kind == "df" and isinstance(data, dict):
        for key in ("Containers", "Volumes"):
            if key in data:
                data[key] = _visible_items(data[key], visible, "Labels")
    else:
        return body
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


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
    """Keeps the /events lines a caller below admin may see: their containers, networks and volumes,
    and image events (images are shared by everyone on a host); nothing about the daemon or others."""

    def __init__(self, visible: Visible, lookup: LabelLookup) -> None:
        self.visible, self.lookup = visible, lookup
        self.splitter = LineSplitter()
        # Network and volume events carry no labels: decisions are cached by object id, so the destroy
        # event of an object that is gone is shown when its create was.
        self._seen: dict[tuple[str, str], bool] = {}

    async def feed(self, data: bytes) -> bytes:
        kept = [line for line in self.splitter.feed(data) if await self.keep(line)]
        return b"".join(kept)

    async def keep(self, line: bytes) -> bool:
        try:
            event = json.loads(line)
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        kind = event.get("Type") or ""
        actor = event.get("Actor")
        actor = actor if isinstance(actor, dict) else {}
        if kind == "image":
            return True
        if kind == "container":
            # Container events carry the container's labels among the actor's attributes.
            return self.visible(_labels(actor, "Attributes") or {})
        if kind in ("network", "volume"):
            object_id = str(actor.get("ID") or "")
            key = (kind, object_id)
            if key not in self._seen:
                labels = await self.lookup(kind, object_id) if object_id else None
                self._seen[key] = labels is not None and self.visible(labels)
                if len(self._seen) > 10_000:
                    self._seen.clear()
            return self._seen[key]
        return False


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
