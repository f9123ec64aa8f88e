"""Admission of one Docker API call: role (hosts.access), ownership, and the admission policy (hosts.policy).

The gateway calls `admit` for every request it relays; the REST API and jobs call it for the engine calls
they make on a user's behalf. It decides nothing itself: roles and ownership come from hosts.access, body
rules from hosts.policy; it only knows which Docker endpoint needs what, and asks the engine the facts
(owner labels, volume options) those two need.
"""

from __future__ import annotations

import json
import re

from hosts import access, policy
from hosts.access import Action, Caller
from hosts.facts import EngineLookups
from hosts.models import Host, Role

_ID = r"(?P<ref>[^/]+)"
# (methods, path pattern, action); first match wins. Paths are canonical: no /hosts/<name>, no /vX.Y.
_ACTIONS: tuple[tuple[frozenset[str], re.Pattern[str], Action], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern + r"$"), action)
    for methods, pattern, action in [
        ("GET HEAD", r"/_ping|/version|/info|/events|/system/df", Action.VIEW),
        ("GET HEAD", r"/containers/json", Action.VIEW),
        ("GET HEAD", rf"/containers/{_ID}/(json|logs|top|stats|changes)", Action.VIEW),
        ("GET HEAD PUT", rf"/containers/{_ID}/(archive|export)", Action.OPERATE),
        ("GET", rf"/containers/{_ID}/attach/ws", Action.EXEC),
        ("POST", r"/containers/create", Action.CREATE),
        (
            "POST",
            r"/containers/prune|/volumes/prune|/networks/prune|/images/prune|/build/prune",
            Action.ADMIN,
        ),
        ("POST", rf"/containers/{_ID}/(attach|exec)", Action.EXEC),
        ("POST", rf"/containers/{_ID}/[a-z]+", Action.OPERATE),
        ("DELETE", rf"/containers/{_ID}", Action.OPERATE),
        ("GET HEAD", rf"/exec/{_ID}/json", Action.VIEW),
        ("POST", rf"/exec/{_ID}/(start|resize)", Action.EXEC),
        ("GET HEAD", r"/images/.*|/distribution/.*", Action.VIEW),
        ("POST", r"/build|/commit|/images/create|/images/load|/images/.+/(push|tag)|/auth", Action.IMAGES),
        ("DELETE", r"/images/.+", Action.IMAGES),
        ("GET HEAD", r"/networks|/volumes", Action.VIEW),
        ("GET HEAD", rf"/(networks|volumes)/{_ID}", Action.VIEW),
        ("POST", r"/networks/create|/volumes/create", Action.CREATE),
        ("POST", rf"/networks/{_ID}/(connect|disconnect)", Action.OPERATE),
        ("DELETE", rf"/(networks|volumes)/{_ID}", Action.OPERATE),
    ]
)
# Paths naming one owned object: its kind and where the reference is.
_OBJECT = re.compile(r"/(?P<kind>containers|exec|networks|volumes)/(?P<ref>[^/]+)(/|$)")
_NOT_OBJECTS = frozenset({"json", "create", "prune"})
_CREATES = re.compile(r"/(containers|networks|volumes)/create$")


def required_action(method: str, path: str) -> Action:
    """The action a Docker API call needs; anything unlisted (swarm, plugins, system changes) is admin."""
    method = method.upper()
    canonical = policy.canonical_path(path)
    for methods, pattern, action in _ACTIONS:
        if method in methods and pattern.match(canonical):
            return action
    return Action.ADMIN


def needs_body(method: str, path: str) -> bool:
    """Whether admit() must read the request body (creates, exec, updates); others stream through."""
    return policy.body_needed(method, path) or bool(_CREATES.search(policy.canonical_path(path)))


def _object_in(path: str) -> tuple[str, str] | None:
    match = _OBJECT.match(policy.canonical_path(path))
    if match is None or match["ref"] in _NOT_OBJECTS:
        return None
    return match["kind"], match["ref"]


def _with_owner_labels(body: bytes, content_type: str | None, labels: dict[str, str]) -> bytes:
    parsed = policy.parse_json_body(body or b"{}", content_type or "application/json")
    labelled = policy.apply_owner_labels(
        parsed, labels[access.OWNER_USER_LABEL], labels.get(access.OWNER_TEAM_LABEL)
    )
    return json.dumps(labelled, separators=(",", ":")).encode()


def _require(
    who: Caller,
    host: Host,
    action: Action,
    method: str,
    path: str,
    query: dict[str, list[str]],
    content_type: str | None,
    body: bytes,
    lookups: EngineLookups,
) -> Role | None:
    try:
        return access.require(who, host, action)
    except access.AccessDenied as refused:
        if action is Action.ADMIN and not refused.not_found:
            # Admin-only calls (swarm, plugins, BuildKit sessions, prunes): the policy's refusal names
            # the rule and says what to do instead, which helps more than "needs admin".
            settings = policy.PolicySettings.from_dict(host.policy or {})
            policy.check_request(method, path, query, content_type, body, settings, lookups)
        raise


def admit(
    who: Caller,
    host: Host,
    method: str,
    path: str,
    query: dict[str, list[str]],
    content_type: str | None,
    body: bytes,
) -> bytes | None:
    """Admit one call or raise AccessDenied / policy.Denied; returns the body to forward (None: unchanged)."""
    action = required_action(method, path)
    lookups = EngineLookups(who, host)
    try:
        role = _require(who, host, action, method, path, query, content_type, body, lookups)
        target = _object_in(path)
        if target is not None and role is not Role.ADMIN:
            labels = lookups.labels_of(*target)
            if labels is not None:  # a missing object: the engine answers its own 404
                if not access.can_see_object(who, host, labels):
                    # Worded like the engine's own 404, so a hidden object looks like a missing one.
                    raise access.AccessDenied(f"No such {target[0].rstrip('s')}: {target[1]}", not_found=True)
                if action is not Action.VIEW:
                    access.may_act_on(who, host, labels, action)
        # owner_labels costs two queries and only creates use it: not on every call (the gateway admits
        # every request, most of them reads).
        creates = method.upper() == "POST" and bool(_CREATES.search(policy.canonical_path(path)))
        owner = access.owner_labels(who, host) if creates else None
        if not access.policy_applies(who, host):
            return _with_owner_labels(body, content_type, owner) if owner is not None else None
        settings = policy.PolicySettings.from_dict(host.policy or {})
        return policy.check_request(
            method,
            path,
            query,
            content_type,
            body,
            settings,
            lookups,
            owner=(owner[access.OWNER_USER_LABEL], owner.get(access.OWNER_TEAM_LABEL)) if owner else None,
        )
    finally:
        lookups.close()
