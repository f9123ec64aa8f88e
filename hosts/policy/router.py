"""`check_request`: the policy for raw Docker API calls as the gateway relays them, with its route table."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .base import Denied, as_str, folded, parse_json_body, query_values
from .containers import Facts, admit_container_create, check_container_update, check_exec_create
from .images import (
    check_build_tags,
    check_commit,
    check_image_export,
    check_image_import,
    check_image_push,
    check_image_remove,
    check_image_tag,
)
from .objects import (
    apply_owner_labels,
    check_build,
    check_image_create,
    check_network_create,
    check_volume_create,
)
from .references import check_connect, check_container_ref, check_start_references
from .settings import PolicySettings

_VERSION_PREFIX = re.compile(r"/v[0-9][0-9.]*(?=/)")
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
# Go's ParseForm reads these bodies for POST/PUT/PATCH and lets their values override the query string:
# `POST /images/create` with a form body `fromSrc=http://...` makes the engine fetch that URL (verified).
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    query: dict[str, list[str]]
    content_type: str | None
    raw_body: bytes
    settings: PolicySettings
    facts: Facts
    owner: tuple[str, str | None] | None

    def body(self) -> dict[str, Any]:
        return parse_json_body(self.raw_body, self.content_type)


_Handler = Callable[[_Call, "re.Match[str]"], "bytes | None"]


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _pass(call: _Call, match: re.Match[str]) -> bytes | None:
    return None


def _deny(rule: str, message: str) -> _Handler:
    def handler(call: _Call, match: re.Match[str]) -> bytes | None:
        raise Denied(rule, "path", message)

    return handler


def _container_create(call: _Call, match: re.Match[str]) -> bytes | None:
    body, changed = admit_container_create(call.body(), call.settings, call.facts)
    if call.owner is not None:
        return _encode(apply_owner_labels(body, *call.owner))
    return _encode(body) if changed else None


def _container_update(call: _Call, match: re.Match[str]) -> bytes | None:
    check_container_update(call.body(), call.settings)
    return None


def _container_start(call: _Call, match: re.Match[str]) -> bytes | None:
    # API < 1.24 applies a HostConfig sent with start (`POST /v1.23/containers/x/start {"Privileged":
    # true}` works on 20.10), and the version prefix may be stripped before we see it: refuse any body.
    if call.raw_body.strip() not in (b"", b"{}", b"null"):
        raise Denied("no-start-config", "body", "Send no body with start; set options when creating.")
    for name in call.query:
        if name.lower().startswith("checkpoint"):
            raise Denied("no-checkpoint", name, "Starting from a checkpoint is reserved for admins.")
    check_start_references(match["name"], call.facts)
    return None


def _container_restart(call: _Call, match: re.Match[str]) -> bytes | None:
    check_start_references(match["name"], call.facts)
    return None


def _exec_create(call: _Call, match: re.Match[str]) -> bytes | None:
    check_exec_create(call.body(), call.facts, match["name"])
    return None


def _exec_use(call: _Call, match: re.Match[str]) -> bytes | None:
    if not call.facts.owns_exec(match["id"]):
        raise Denied("exec-not-owned", "exec", "This exec instance belongs to a container that is not yours.")
    return None


def _commit(call: _Call, match: re.Match[str]) -> bytes | None:
    check_commit(call.query, call.raw_body, call.content_type, call.facts)
    return None


def _volume_create(call: _Call, match: re.Match[str]) -> bytes | None:
    body = call.body()
    check_volume_create(body)
    view = folded(body)
    name = as_str(body[view["name"]], "Name") if "name" in view else ""
    # The engine answers a create of an existing name with that volume, labels and all: not another's.
    existing = call.facts.volume_ownership(name) if name else None
    if existing is not None and not existing.usable:
        raise Denied(
            "volume-not-owned", "Name", f"A volume named {name!r} exists and is not yours; pick another name."
        )
    return None if call.owner is None else _encode(apply_owner_labels(body, *call.owner))


def _network_create(call: _Call, match: re.Match[str]) -> bytes | None:
    body = call.body()
    check_network_create(body)
    return None if call.owner is None else _encode(apply_owner_labels(body, *call.owner))


def _network_connect(call: _Call, match: re.Match[str]) -> bytes | None:
    check_connect(match["name"], call.body(), call.facts)
    return None


def _network_disconnect(call: _Call, match: re.Match[str]) -> bytes | None:
    body = call.body()
    keys = folded(body)
    ref = as_str(body[keys["container"]], "Container") if "container" in keys else ""
    check_container_ref(ref, "Container", "container-not-owned", call.facts, "Disconnecting")
    return None


def _build(call: _Call, match: re.Match[str]) -> bytes | None:
    check_build(call.query, call.settings, call.facts)
    check_build_tags(call.query, call.facts)
    return None


def _image_create(call: _Call, match: re.Match[str]) -> bytes | None:
    check_image_create(call.query, call.settings)
    check_image_import(call.query, call.facts)
    return None


def _image_tag(call: _Call, match: re.Match[str]) -> bytes | None:
    check_image_tag(match["name"], call.query, call.settings, call.facts)
    return None


def _image_push(call: _Call, match: re.Match[str]) -> bytes | None:
    check_image_push(match["name"], call.query, call.settings, call.facts)
    return None


def _image_remove(call: _Call, match: re.Match[str]) -> bytes | None:
    check_image_remove(match["name"], call.facts)
    return None


def _image_export(call: _Call, match: re.Match[str]) -> bytes | None:
    if "name" in match.groupdict():
        check_image_export([match["name"]], "name", call.facts)
    else:
        check_image_export(query_values(call.query, "names"), "names", call.facts)
    return None


def _r(methods: str, pattern: str, handler: _Handler, *, body: bool = False) -> _Route:
    return frozenset(methods.split()), re.compile(pattern), handler, body


_Route = tuple[frozenset[str], "re.Pattern[str]", _Handler, bool]
_ANY = "GET HEAD POST PUT DELETE PATCH OPTIONS"
_SWARM = "Swarm (services, nodes, tasks, secrets, configs) is reserved for host admins."
_BUILDKIT = "BuildKit is not available through this gateway; set DOCKER_BUILDKIT=0."
_PRUNE = "Prune removes other users' objects too; remove your own objects by name."
_CONTAINER_ACTIONS = "kill|pause|unpause|restart|stop|wait|resize|attach|rename|logs/clear"

# Routes as dockerd's router has them (names may contain '/': its patterns are `{name:.*}`); the first match
# wins. A write that matches nothing is denied; a read that matches nothing passes. body=True: the handler
# reads the JSON body, so the gateway must buffer it (body_needed).
_ROUTES: tuple[_Route, ...] = (
    # Whole families a non-admin never uses, whatever the method (GET /swarm returns the join tokens).
    _r(_ANY, r"/(?:swarm|services|nodes|tasks|secrets|configs)(?:/.*)?", _deny("no-swarm", _SWARM)),
    _r(_ANY, r"/plugins(?:/.*)?", _deny("no-plugins", "Engine plugins are reserved for host admins.")),
    _r(_ANY, r"/(?:grpc|session)(?:/.*)?", _deny("no-buildkit-session", _BUILDKIT)),
    _r(_ANY, r"/containers/.*/checkpoints(?:/.*)?", _deny("no-checkpoint", "Checkpoints are for admins.")),
    _r("POST", r"/(?:containers|images|volumes|networks|build)/prune", _deny("no-prune", _PRUNE)),
    # Containers and exec.
    _r("POST", r"/containers/create", _container_create, body=True),
    _r("POST", r"/containers/(?P<name>.+)/update", _container_update, body=True),
    _r("POST", r"/containers/(?P<name>.+)/exec", _exec_create, body=True),
    _r("POST", r"/containers/(?P<name>.+)/start", _container_start, body=True),
    _r("POST", r"/containers/(?P<name>.+)/restart", _container_restart),
    _r("POST", rf"/containers/.+/(?:{_CONTAINER_ACTIONS})", _pass),
    _r("PUT", r"/containers/.+/archive", _pass),
    _r("DELETE", r"/containers/.+", _pass),
    _r("POST", r"/exec/(?P<id>.+)/(?:start|resize)", _exec_use),
    _r("POST", r"/commit", _commit, body=True),
    # Volumes and networks.
    _r("POST", r"/volumes/create", _volume_create, body=True),
    _r("PUT", r"/volumes/.+", _deny("no-swarm", "Cluster volumes are reserved for host admins.")),
    _r("DELETE", r"/volumes/.+", _pass),
    _r("POST", r"/networks/create", _network_create, body=True),
    _r("POST", r"/networks/(?P<name>.+)/connect", _network_connect, body=True),
    _r("POST", r"/networks/.+/disconnect", _network_disconnect, body=True),
    _r("DELETE", r"/networks/.+", _pass),
    # Images and builds.
    _r("POST", r"/build", _build),
    _r("POST", r"/build/cancel", _pass),
    _r("POST", r"/images/create", _image_create),
    _r("POST", r"/images/load", _pass),
    _r("POST", r"/images/(?P<name>.+)/push", _image_push),
    _r("POST", r"/images/(?P<name>.+)/tag", _image_tag),
    _r("DELETE", r"/images/(?P<name>.+)", _image_remove),
    _r("GET HEAD", r"/images/get", _image_export),
    _r("GET HEAD", r"/images/(?P<name>.+)/get", _image_export),
    _r("POST", r"/auth", _pass),
)


def canonical_path(path: str) -> str:
    """The path dockerd routes on: percent-decoded, cleaned, without a /vX.Y prefix."""
    path = path.split("?", 1)[0]
    if "%" in path:
        path = unquote(path)  # gorilla/mux matches the decoded path: /containers%2Fcreate is a create
    if "//" in path or "/." in path or path.endswith("/"):
        path = posixpath.normpath("/" + path.lstrip("/"))  # dockerd redirects unclean paths; check as cleaned
    match = _VERSION_PREFIX.match(path)
    return path[match.end() :] if match else path


def _route(method: str, path: str) -> tuple[_Handler, re.Match[str], bool] | None:
    for methods, pattern, handler, reads in _ROUTES:
        if method in methods:
            match = pattern.fullmatch(path)
            if match:
                return handler, match, reads
    return None


def body_needed(method: str, path: str) -> bool:
    """Must the gateway buffer this request's body (up to MAX_BODY_BYTES + 1) for check_request?"""
    found = _route(method.upper(), canonical_path(path))
    return found is not None and found[2]


def check_request(
    method: str,
    path: str,
    query: dict[str, list[str]],
    content_type: str | None,
    raw_body: bytes,
    settings: PolicySettings,
    facts: Facts,
    *,
    owner: tuple[str, str | None] | None = None,
) -> bytes | None:
    """Admit a raw Docker API call for a non-admin: Denied, or the body to forward (None: the original).

    `query` is the parsed query string (keep blank values); `raw_body` is needed only where body_needed()
    says so. With `owner` (user, team), create bodies of containers, volumes and networks get owner labels.
    """
    method = method.upper()
    if method in ("POST", "PUT", "PATCH"):
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media in _FORM_TYPES:
            raise Denied(
                "no-form-body",
                "Content-Type",
                f"{media} bodies are not accepted; send parameters in the URL.",
            )
    canonical = canonical_path(path)
    found = _route(method, canonical)
    if found is None:
        if method in _READ_ONLY:
            return None
        raise Denied(
            "unknown-endpoint", "path", f"{method} {canonical} is not an endpoint this gateway knows."
        )
    handler, match, _ = found
    return handler(_Call(method, query, content_type, raw_body, settings, facts, owner), match)
