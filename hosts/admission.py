"""Admission of one Docker API call: role (hosts.access), ownership, and the admission policy (hosts.policy).

The gateway calls `admit` for every request it relays; the REST API and jobs call it for the engine calls
they make on a user's behalf. It decides nothing itself: roles and ownership come from hosts.access, body
rules from hosts.policy; it only knows which Docker endpoint needs what, and asks the engine the facts
(owner labels, volume options) those two need.
"""

from __future__ import annotations

import dataclasses
import json
from typing import IO

from hosts import access, policy, visibility
from hosts.access import Action, Caller
from hosts.engine.request import BadReference, EngineRequest, Kind
from hosts.facts import EngineLookups
from hosts.models import Host, Role

_CREATES = frozenset({"/containers/create", "/networks/create", "/volumes/create"})
# The action each route of the engine route table needs (hosts.engine.request.ROUTES), by "METHOD template"
# (HEAD as GET); a route or path not listed (swarm, plugins, prunes, cluster volumes) needs admin.
_ACTIONS: dict[str, Action] = {
    **dict.fromkeys(
        [
            "GET /_ping", "GET /events", "GET /info", "GET /version", "GET /system/df",
            "GET /containers/json",
            "GET /containers/{container}/changes", "GET /containers/{container}/json",
            "GET /containers/{container}/top", "GET /containers/{container}/logs",
            "GET /containers/{container}/stats", "GET /exec/{exec}/json", "GET /images/json",
            "GET /images/search", "GET /images/get", "GET /images/{image}/get", "GET /images/{image}/history",
            "GET /images/{image}/json", "GET /distribution/{image}/json", "GET /networks", "GET /networks/",
            "GET /networks/{network}", "GET /volumes", "GET /volumes/{volume}",
        ],
        Action.VIEW,
    ),
    **dict.fromkeys(
        [
            "GET /containers/{container}/export", "GET /containers/{container}/archive",
            "PUT /containers/{container}/archive", "POST /containers/{container}/kill",
            "POST /containers/{container}/pause", "POST /containers/{container}/unpause",
            "POST /containers/{container}/restart", "POST /containers/{container}/start",
            "POST /containers/{container}/stop", "POST /containers/{container}/wait",
            "POST /containers/{container}/resize", "POST /containers/{container}/copy",
            "POST /containers/{container}/rename", "POST /containers/{container}/update",
            "DELETE /containers/{container}", "POST /networks/{network}/connect",
            "POST /networks/{network}/disconnect", "DELETE /networks/{network}", "DELETE /volumes/{volume}",
        ],
        Action.OPERATE,
    ),
    **dict.fromkeys(
        [
            "GET /containers/{container}/attach/ws", "POST /containers/{container}/attach",
            "POST /containers/{container}/exec", "POST /exec/{exec}/start", "POST /exec/{exec}/resize",
        ],
        Action.EXEC,
    ),
    **dict.fromkeys(
        ["POST /containers/create", "POST /networks/create", "POST /volumes/create"], Action.CREATE
    ),
    **dict.fromkeys(
        [
            "POST /commit", "POST /images/load", "POST /images/create", "POST /images/{image}/push",
            "POST /images/{image}/tag", "DELETE /images/{image}", "POST /build", "POST /build/cancel",
            "POST /auth",
        ],
        Action.IMAGES,
    ),
}  # fmt: skip
_OWNED_KINDS = frozenset({Kind.CONTAINER, Kind.EXEC, Kind.NETWORK, Kind.VOLUME})


def required_action(request: EngineRequest) -> Action:
    """The action a Docker API call needs; anything unlisted (swarm, plugins, system changes) is admin."""
    route = request.match.route
    if route is None:
        return Action.ADMIN
    method = "GET" if request.method == "HEAD" else request.method
    return _ACTIONS.get(f"{method} {route.template}", Action.ADMIN)


def needs_body(method: str, path: str) -> bool:
    """Whether admit() must read the request body (creates, exec, updates); others stream through."""
    return policy.body_needed(method, path) or policy.canonical_path(path) in _CREATES


def _with_build_owner_labels(request: EngineRequest, owner: dict[str, str]) -> EngineRequest:
    """The build with the owner's labels in its `labels` query (the classic builder sets them after the
    Dockerfile's own LABELs, so none planted there survives); the client's other labels are kept."""
    labels: dict[str, str] = {}
    for name, value in request.query:
        if name.lower() == "labels" and value:
            try:
                sent = json.loads(value)
            except ValueError:
                raise policy.Denied(
                    "bad-json", "labels", "The labels parameter is not a JSON object."
                ) from None
            if not isinstance(sent, dict):
                raise policy.Denied("bad-json", "labels", "The labels parameter is not a JSON object.")
            labels.update({str(k): str(v) for k, v in sent.items()})
    policy.refuse_owner_labels(labels, "labels")
    query = tuple((name, value) for name, value in request.query if name.lower() != "labels")
    owned = json.dumps({**labels, access.OWNER_TEAM_LABEL: "", **owner}, separators=(",", ":"))
    return dataclasses.replace(request, query=(*query, ("labels", owned)))


def _with_owner_labels(body: bytes, content_type: str | None, labels: dict[str, str]) -> bytes:
    parsed = policy.parse_json_body(body or b"{}", content_type or "application/json")
    labelled = policy.apply_owner_labels(
        parsed, labels[access.OWNER_USER_LABEL], labels.get(access.OWNER_TEAM_LABEL)
    )
    return json.dumps(labelled, separators=(",", ":")).encode()


def _require(
    who: Caller, host: Host, action: Action, request: EngineRequest, lookups: EngineLookups
) -> Role | None:
    try:
        return access.require(who, host, action)
    except access.AccessDenied as refused:
        if action is Action.ADMIN and not refused.not_found:
            # Admin-only calls (swarm, plugins, BuildKit sessions, prunes): the policy's refusal names
            # the rule and says what to do instead, which helps more than "needs admin".
            settings = policy.PolicySettings.from_dict(host.policy or {})
            _check_policy(request, settings, lookups, None)
        raise


def _check_policy(
    request: EngineRequest,
    settings: policy.PolicySettings,
    lookups: EngineLookups,
    owner: tuple[str, str | None] | None,
) -> bytes | None:
    return policy.check_request(
        request.method,
        request.path,
        request.query_dict,
        request.content_type,
        request.body,
        settings,
        lookups,
        owner=owner,
    )


def admit(who: Caller, host: Host, request: EngineRequest) -> EngineRequest:
    """Admit one call or raise AccessDenied / policy.Denied; returns the request to send: `request` itself,
    or the same call with the body the policy completed (default limits, owner labels)."""
    action = required_action(request)
    lookups = EngineLookups(who, host)
    try:
        role = _require(who, host, action, request, lookups)
        if request.match.route is not None and request.match.route.template == "/containers/{container}/top":
            # Process listings can print environments: the same secret as inspect's Env.
            visibility.check_top_query(request.query_dict, secrets=visibility.Scope(who, host, role).secrets)
        kind = request.kind
        if kind in _OWNED_KINDS and role is not Role.ADMIN:
            assert kind is not None
            labels = lookups.labels_of(
                kind.value + "s" if kind is not Kind.EXEC else "exec", request.reference
            )
            if labels is not None:  # a missing object: the engine answers its own 404
                if not visibility.can_see_object(who, host, labels):
                    # Worded like the engine's own 404, so a hidden object looks like a missing one.
                    raise access.AccessDenied(f"No such {kind.value}: {request.reference}", not_found=True)
                if action is not Action.VIEW:
                    access.may_act_on(who, host, labels, action)
        # owner_labels costs two queries and only creates use it: not on every call (the gateway admits
        # every request, most of them reads).
        creates = request.method == "POST" and request.path in _CREATES
        builds = request.method == "POST" and request.path == "/build"
        owner = access.owner_labels(who, host) if creates or builds else None
        if access.policy_applies(who, host):
            settings = policy.PolicySettings.from_dict(host.policy or {})
            pair = (owner[access.OWNER_USER_LABEL], owner.get(access.OWNER_TEAM_LABEL)) if owner else None
            request = request.with_body(_check_policy(request, settings, lookups, pair if creates else None))
        elif creates and owner is not None:
            request = request.with_body(_with_owner_labels(request.body, request.content_type, owner))
        if builds and owner is not None:
            request = _with_build_owner_labels(request, owner)
        return request
    finally:
        lookups.close()


def admit_image_load(who: Caller, host: Host, archive: IO[bytes]) -> None:
    """For a caller below admin, the tags a `docker load` archive would set may not be another team's
    (read from the archive as dockerd reads it); raises policy.Denied. The archive is rewound either way."""
    if not access.policy_applies(who, host):
        return
    lookups = EngineLookups(who, host)
    try:
        # Loading an image onto a tag that already names it moves nothing (a `docker save | docker load`).
        tags = policy.image_tags_in_tar(archive)
        moved = [tag for tag, image_id in tags.items() if not image_id or lookups.image_id(tag) != image_id]
        policy.check_loaded_tags(moved, lookups)
    except policy.Denied as exc:
        if exc.rule == "bad-image-archive":  # not an archive the engine could load: bad input, not a refusal
            raise BadReference("body", exc.message) from None
        raise
    finally:
        lookups.close()
        archive.seek(0)
