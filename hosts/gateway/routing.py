"""Where a request goes and what kind of Docker call it is: pure functions of the request line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from hosts import policy
from hosts.audit import REDACTED, is_secret_name

PREFIX = "/hosts/"
# BuildKit dials these with no base path and no version (moby client/hijack.go DialHijack).
BUILDKIT_PATHS = frozenset({"/grpc", "/session"})
_HOST_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")  # as hosts.models.HOST_NAME_VALIDATOR
USAGE = "Address a host as DOCKER_HOST=tcp://<gateway>:<port>/hosts/<host-name>."


class BadTarget(Exception):
    """A request line the gateway cannot route; `status` and `message` make the error reply."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class Target:
    """A routed request line: which host (none for BuildKit), and the Docker API path and query as sent."""

    host_name: str
    path: str  # e.g. /v1.41/containers/json, still percent-encoded
    query_string: str

    @property
    def buildkit(self) -> bool:
        return not self.host_name

    @property
    def engine_target(self) -> bytes:
        """The request target to send to the engine."""
        return (self.path + ("?" + self.query_string if self.query_string else "")).encode("ascii")

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)


def parse_target(raw: bytes) -> Target:
    """Route `/hosts/<name>/<docker path>` (and BuildKit's `/grpc`, `/session`); raises BadTarget."""
    try:
        target = raw.decode("ascii")
    except UnicodeDecodeError:
        raise BadTarget(400, "The request target is not ASCII.") from None
    path, _, query_string = target.partition("?")
    if not path.startswith("/"):
        raise BadTarget(400, f"Only origin-form request targets are accepted. {USAGE}")
    if path in BUILDKIT_PATHS:
        return Target("", path, query_string)
    if not path.startswith(PREFIX):
        raise BadTarget(404, f"No Docker host is named in {path!r}. {USAGE}")
    name, sep, rest = path[len(PREFIX) :].partition("/")
    if not _HOST_NAME.fullmatch(name):
        raise BadTarget(404, f"No host {name!r} is visible to you. {USAGE}")
    if not sep or not rest:
        raise BadTarget(404, f"Host {name!r} is there; add a Docker API path after it. {USAGE}")
    segments = rest.split("/")
    # The engine would redirect these; refusing them keeps what admission checks and what runs the same.
    if any(segment in (".", "..") for segment in segments) or "" in segments[:-1]:
        raise BadTarget(400, "Dot segments and empty segments are not accepted in Docker API paths.")
    return Target(name, "/" + rest, query_string)


_CONTAINER = r"(?P<ref>[^/]+)"
_ANY_NAME = r"(?P<ref>.+)"  # image names contain '/' and ':' unescaped; match greedily like dockerd
# (method, canonical path, audit action); first match wins.
_AUDIT_TABLE = [
    ("POST", r"/containers/create", "container.create"),
    ("POST", r"/(?P<kind>containers|images|networks|volumes|build)/prune", "{kind}.prune"),
    ("POST", rf"/containers/{_CONTAINER}/exec", "exec.create"),
    ("POST", rf"/containers/{_CONTAINER}/(?P<verb>[a-z]+)", "container.{verb}"),
    ("PUT", rf"/containers/{_CONTAINER}/archive", "container.copy_in"),
    ("DELETE", rf"/containers/{_CONTAINER}", "container.remove"),
    ("GET", rf"/containers/{_CONTAINER}/attach/ws", "container.attach"),
    ("POST", r"/(?P<kind>session|grpc)", "buildkit.{kind}"),
    ("POST", rf"/exec/{_CONTAINER}/start", "exec.start"),
    ("POST", r"/commit", "image.commit"),
    ("POST", r"/build", "image.build"),
    ("POST", r"/images/create", "image.pull"),
    ("POST", r"/images/load", "image.load"),
    ("POST", rf"/images/{_ANY_NAME}/(?P<verb>push|tag)", "image.{verb}"),
    ("DELETE", rf"/images/{_ANY_NAME}", "image.remove"),
    ("POST", r"/(?P<kind>network|volume)s/create", "{kind}.create"),
    ("POST", rf"/networks/{_CONTAINER}/(?P<verb>connect|disconnect)", "network.{verb}"),
    ("DELETE", rf"/(?P<kind>network|volume)s/{_CONTAINER}", "{kind}.remove"),
]
# The table by method, so a GET (most calls) tries one pattern, not all of them.
_AUDIT_NAMES: dict[str, list[tuple[re.Pattern[str], str]]] = {}
for _method, _pattern, _action in _AUDIT_TABLE:
    _AUDIT_NAMES.setdefault(_method, []).append((re.compile(_pattern), _action))
_HIJACKS = re.compile(r"/containers/[^/]+/attach|/exec/[^/]+/start")
# Large or endless bodies that need no inspection: relayed byte for byte on an engine connection of their own.
_BULK = re.compile(r"/containers/[^/]+/(?:logs|export|archive|stats)|/images/(?:.+/)?get|/events")
# Streams of JSON progress lines whose errors arrive inside a 200.
_PROGRESS = re.compile(r"/images/create|/images/.+/push|/build|/images/load")
# Reads whose responses list owned objects: filtered for callers below admin.
_LISTINGS = {
    "/containers/json": "containers",
    "/networks": "networks",
    "/volumes": "volumes",
    "/system/df": "df",
    "/events": "events",
}
_CONTAINER_INSPECT = re.compile(r"/containers/[^/]+/json")  # environment values, for viewers
# Changing calls that change nothing worth a row: waiting for a container, resizing a terminal.
_NOT_AUDITED = re.compile(r"/containers/[^/]+/(?:wait|resize)|/exec/[^/]+/resize|/auth")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What kind of Docker call a request is, for relaying and auditing it."""

    method: str
    canonical: str  # no version prefix, percent-decoded (hosts.policy.canonical_path)
    hijacks: bool  # attach / exec start: may switch to a raw stream
    bulk: bool  # GET of a large or endless body
    progress: bool  # JSON progress stream (pull, push, build, load)
    listing: str | None  # which owned objects the response lists ("container": one container's inspect)
    audited: bool
    action: str  # audit action name
    object_ref: str  # the object named in the path, if any


def classify(method: str, path: str) -> Endpoint:
    """Classify a call by method and Docker API path (with or without /vX.Y)."""
    method = method.upper()
    canonical = policy.canonical_path(path)
    action, ref = f"engine.{method.lower()}", ""
    for pattern, name in _AUDIT_NAMES.get(method, ()):
        match = pattern.fullmatch(canonical)
        if match:
            groups = match.groupdict()
            action, ref = name.format(**groups), groups.get("ref") or ""
            break
    hijacks = method == "POST" and bool(_HIJACKS.fullmatch(canonical))
    return Endpoint(
        method=method,
        canonical=canonical,
        hijacks=hijacks,
        bulk=method == "GET" and bool(_BULK.fullmatch(canonical)),
        progress=method == "POST" and bool(_PROGRESS.fullmatch(canonical)),
        listing=_listing(method, canonical),
        audited=hijacks
        or action == "container.attach"
        or (method not in _READS and not _NOT_AUDITED.fullmatch(canonical)),
        action=action,
        object_ref=ref,
    )


def _listing(method: str, canonical: str) -> str | None:
    if method != "GET":
        return None
    if canonical in _LISTINGS:
        return _LISTINGS[canonical]
    return "container" if _CONTAINER_INSPECT.fullmatch(canonical) else None


def audit_path(endpoint: Endpoint, query: dict[str, list[str]]) -> str:
    """The path for the audit log: canonical, with secret-looking query values (and build args) redacted."""
    if not query:
        return endpoint.canonical
    pairs = [
        (name, REDACTED if name.lower() == "buildargs" or is_secret_name(name) else value)
        for name, values in query.items()
        for value in values
    ]
    return f"{endpoint.canonical}?{urlencode(pairs)}"


def object_name(endpoint: Endpoint, query: dict[str, list[str]]) -> str:
    """A readable name for the object a call creates or changes (image reference, container name)."""

    def first(name: str) -> str:
        return (query.get(name) or [""])[0]

    if endpoint.action == "image.pull":
        image, tag = first("fromImage") or first("fromSrc"), first("tag")
        return f"{image}:{tag}" if image and tag and "@" not in image else image
    if endpoint.action == "image.build":
        return first("t")
    if endpoint.action == "image.commit":
        return f"{first('repo')}:{first('tag')}" if first("repo") and first("tag") else first("repo")
    if endpoint.action == "image.push":
        return f"{endpoint.object_ref}:{first('tag')}" if first("tag") else endpoint.object_ref
    if endpoint.action == "container.create" or endpoint.action == "container.rename":
        return first("name")
    return ""
