"""Where a request goes and what kind of Docker call it is: pure functions of the request line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hosts import policy
from hosts.audit import audited_path
from hosts.engine.request import BadReference, EngineRequest

PREFIX = "/hosts/"
# BuildKit dials these with no base path and no version (moby client/hijack.go DialHijack).
BUILDKIT_PATHS = frozenset({"/grpc", "/session"})
_HOST_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")  # as hosts.models.HOST_NAME_VALIDATOR
USAGE = "Address a host as DOCKER_HOST=tcp://<gateway>:<port>/hosts/<host-name>."


class BadTarget(Exception):
    """A request line the gateway cannot route; `status` and `message` make the error reply."""

    def __init__(self, status: int, message: str, host_name: str = "") -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.host_name = host_name  # the host it was meant for, when the line names one (to audit it)


@dataclass(frozen=True, slots=True)
class Target:
    """A routed request line: which host (none for BuildKit), and the Docker API call in canonical form."""

    host_name: str
    request: EngineRequest  # admitted, then sent to the engine as it is (hosts.engine.request)

    @property
    def buildkit(self) -> bool:
        return not self.host_name

    @property
    def path(self) -> str:
        """The canonical path with the client's version prefix, e.g. /v1.41/containers/json."""
        return self.request.target().split("?", 1)[0]

    @property
    def engine_target(self) -> bytes:
        """The request target to send to the engine: the canonical form admission decided on."""
        return self.request.target().encode("ascii")

    @property
    def query(self) -> dict[str, list[str]]:
        return self.request.query_dict

    @property
    def query_string(self) -> str:
        return self.request.query_string


def parse_target(raw: bytes, method: str = "GET") -> Target:
    """Route `/hosts/<name>/<docker path>` (and BuildKit's `/grpc`, `/session`); raises BadTarget.

    The Docker path is decoded as dockerd decodes it and re-encoded canonically (hosts.engine.request):
    a path or reference dockerd would read differently from us is refused here with a 400."""
    try:
        target = raw.decode("ascii")
    except UnicodeDecodeError:
        # Still name the host it was meant for, so that the refusal is audited against its sender.
        name = raw.removeprefix(PREFIX.encode()).partition(b"/")[0].decode("ascii", "replace")
        named = name if raw.startswith(PREFIX.encode()) and _HOST_NAME.fullmatch(name) else ""
        raise BadTarget(400, "dockerweb gateway: the request target is not ASCII.", named) from None
    path, _, query_string = target.partition("?")
    if not path.startswith("/"):
        raise BadTarget(400, f"Only origin-form request targets are accepted. {USAGE}")
    if path in BUILDKIT_PATHS:
        return Target("", _engine_request(method, path, query_string))
    if not path.startswith(PREFIX):
        raise BadTarget(404, f"No Docker host is named in {path!r}. {USAGE}")
    name, sep, rest = path[len(PREFIX) :].partition("/")
    if not _HOST_NAME.fullmatch(name):
        raise BadTarget(404, f"No host {name!r} is visible to you. {USAGE}")
    if not sep or not rest:
        raise BadTarget(404, f"Host {name!r} is there; add a Docker API path after it. {USAGE}")
    if "#" in target:
        raise BadTarget(400, "dockerweb gateway: a request target carries no fragment ('#').", name)
    return Target(name, _engine_request(method, "/" + rest, query_string, name))


def _engine_request(method: str, path: str, query_string: str, host_name: str = "") -> EngineRequest:
    try:
        return EngineRequest.parse(method, path, query_string)
    except BadReference as exc:
        raise BadTarget(400, f"dockerweb gateway: {exc.message}", host_name) from None


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
# Inspects rewritten for every caller (owner labels, environment values, a network's containers).
_INSPECTS = (
    ("container", re.compile(r"/containers/[^/]+/json")),
    ("network", re.compile(r"/networks/[^/]+")),
    ("volume", re.compile(r"/volumes/[^/]+")),
    ("image", re.compile(r"/images/.+/json")),
)
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
    listing: str | None  # what owned objects the response holds (a list; "container"...: one inspect)
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
    if method == "POST" and canonical == "/volumes/create":
        return "volume"  # the engine answers with the volume, owner labels and all
    if method != "GET":
        return None
    if canonical in _LISTINGS:
        return _LISTINGS[canonical]
    return next((kind for kind, pattern in _INSPECTS if pattern.fullmatch(canonical)), None)


def audit_path(endpoint: Endpoint, query: dict[str, list[str]]) -> str:
    """The path for the audit log: canonical, with secret query values redacted as every entry point's."""
    return audited_path(endpoint.canonical, query)


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
