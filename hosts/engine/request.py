"""One engine request, built once: admission decides on it and the same object is sent.

Every entry point (REST services, websocket consumers, jobs, the gateway) describes a Docker call as an
`EngineRequest`: method, path, query pairs, content type and body. The path is made of route words and
references; each reference is checked against the engine's own grammar for its kind at the edge (a `?`,
`#`, `%`, a `/` where the kind has none, or a dot segment is refused with `BadReference`, naming the field),
then percent-encoded as one segment. So the string admission matched is, byte for byte, the string the
engine routes on: nothing rebuilds a path for one side while a library builds another for the other.

The route table mirrors dockerd's router (moby api/server/router/*): literal routes such as
`/containers/json` are tried before `/containers/{name:.*}/json`, as gorilla/mux does in registration
order, so a container named `json` is the object of `GET /containers/json/json` — found by the table,
never by a list of reserved words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote, urlencode


class Kind(StrEnum):
    """What a reference in a path names."""

    CONTAINER = "container"
    IMAGE = "image"
    NETWORK = "network"
    VOLUME = "volume"
    EXEC = "exec"
    PLUGIN = "plugin"  # swarm and plugin objects: admin-only routes, no grammar of ours beyond "no tricks"


class BadReference(ValueError):
    """A reference (or path) that is not in the engine's grammar; a 400 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# dockerd's validContainerNamePattern, widened to one character for id prefixes (`docker rm 3f`).
_CONTAINER = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
# Local volume names (moby volume/local: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`); one character is refused there.
_VOLUME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
# Network names and ids. dockerd accepts more in names, but not what a path segment cannot carry safely.
_NETWORK = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_EXEC = re.compile(r"[0-9a-f]{1,64}")
# distribution/reference: [domain/]path-component(/path-component)*[:tag][@digest], or an image id.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # ASCII only, as distribution/reference's [\w] in Go
# The digests dockerd verifies (go-digest's registered algorithms, lowercase hex of their exact length).
_DIGEST = r"(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})"
_IMAGE = re.compile(
    rf"(?:sha256:[0-9a-f]{{1,64}}|(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?)"
)
_GRAMMAR = {
    Kind.CONTAINER: (_CONTAINER, "a container name or id (letters, digits, '_', '.', '-')"),
    Kind.VOLUME: (_VOLUME, "a volume name (letters, digits, '_', '.', '-')"),
    Kind.NETWORK: (_NETWORK, "a network name or id (letters, digits, '_', '.', '-')"),
    Kind.EXEC: (_EXEC, "an exec id (hexadecimal)"),
    Kind.IMAGE: (_IMAGE, "an image reference ([registry/]name[:tag][@digest]) or id (sha256:...)"),
    Kind.PLUGIN: (re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:@/-]*"), "a name"),
}
# Longest reference of each kind: distribution's 255-character name (plus tag and digest) for images;
# dockerd's own limits for the others are far shorter than the 128 characters allowed here.
_MAX_LENGTH = {Kind.IMAGE: 255 + 1 + 128 + 1 + 7 + 128}
_MAX_OTHER = 128
_MAX_IMAGE_NAME = 255


def check_reference(kind: Kind, value: Any, field: str | None = None) -> str:
    """`value` if it is a valid reference of `kind`; raises BadReference naming `field` otherwise."""
    name = field or kind.value
    pattern, wanted = _GRAMMAR[kind]
    if not isinstance(value, str) or not value:
        raise BadReference(name, f"{name} is required: {wanted}.")
    too_long = len(value) > _MAX_LENGTH.get(kind, _MAX_OTHER) or (
        kind is Kind.IMAGE and len(_image_name(value)) > _MAX_IMAGE_NAME
    )
    if too_long or not pattern.fullmatch(value) or ".." in value.split("/"):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise BadReference(name, f"{shown!r} is not {wanted}.")
    return value


def _image_name(reference: str) -> str:
    """The repository name of an image reference (no digest, no tag)."""
    name = reference.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > last_slash else name


@dataclass(frozen=True, slots=True)
class Route:
    """One engine endpoint: the methods, the path template, and which part (if any) names an object."""

    methods: frozenset[str]
    template: str
    pattern: re.Pattern[str]
    kind: Kind | None  # the kind of the object named in the path

    def reference(self, match: re.Match[str]) -> str:
        return match["ref"] if self.kind is not None else ""


def _route(methods: str, template: str) -> Route:
    kind: Kind | None = None
    regex = re.escape(template)
    for candidate in Kind:
        placeholder = re.escape("{" + candidate.value + "}")
        if placeholder in regex:
            kind = candidate
            regex = regex.replace(placeholder, "(?P<ref>.*)")  # greedy `{name:.*}`, as dockerd's routes
    return Route(frozenset(methods.split()), template, re.compile(regex), kind)


_GET = "GET HEAD"
# In dockerd's registration order within each family: literal routes first.
ROUTES: tuple[Route, ...] = tuple(
    _route(methods, template)
    for methods, template in [
        # system
        (_GET, "/_ping"),
        (_GET, "/events"),
        (_GET, "/info"),
        (_GET, "/version"),
        (_GET, "/system/df"),
        ("POST", "/auth"),
        # containers
        (_GET, "/containers/json"),
        (_GET, "/containers/{container}/export"),
        (_GET, "/containers/{container}/changes"),
        (_GET, "/containers/{container}/json"),
        (_GET, "/containers/{container}/top"),
        (_GET, "/containers/{container}/logs"),
        (_GET, "/containers/{container}/stats"),
        (_GET, "/containers/{container}/attach/ws"),
        (_GET, "/exec/{exec}/json"),
        (_GET, "/containers/{container}/archive"),
        ("POST", "/containers/create"),
        ("POST", "/containers/prune"),
        ("POST", "/containers/{container}/kill"),
        ("POST", "/containers/{container}/pause"),
        ("POST", "/containers/{container}/unpause"),
        ("POST", "/containers/{container}/restart"),
        ("POST", "/containers/{container}/start"),
        ("POST", "/containers/{container}/stop"),
        ("POST", "/containers/{container}/wait"),
        ("POST", "/containers/{container}/resize"),
        ("POST", "/containers/{container}/attach"),
        ("POST", "/containers/{container}/copy"),
        ("POST", "/containers/{container}/exec"),
        ("POST", "/exec/{exec}/start"),
        ("POST", "/exec/{exec}/resize"),
        ("POST", "/containers/{container}/rename"),
        ("POST", "/containers/{container}/update"),
        ("PUT", "/containers/{container}/archive"),
        ("DELETE", "/containers/{container}"),
        # images
        (_GET, "/images/json"),
        (_GET, "/images/search"),
        (_GET, "/images/get"),
        (_GET, "/images/{image}/get"),
        (_GET, "/images/{image}/history"),
        (_GET, "/images/{image}/json"),
        ("POST", "/commit"),
        ("POST", "/images/load"),
        ("POST", "/images/create"),
        ("POST", "/images/{image}/push"),
        ("POST", "/images/{image}/tag"),
        ("POST", "/images/prune"),
        ("DELETE", "/images/{image}"),
        (_GET, "/distribution/{image}/json"),
        # build
        ("POST", "/build"),
        ("POST", "/build/prune"),
        ("POST", "/build/cancel"),
        # networks
        (_GET, "/networks"),
        (_GET, "/networks/"),
        (_GET, "/networks/{network}"),
        ("POST", "/networks/create"),
        ("POST", "/networks/{network}/connect"),
        ("POST", "/networks/{network}/disconnect"),
        ("POST", "/networks/prune"),
        ("DELETE", "/networks/{network}"),
        # volumes
        (_GET, "/volumes"),
        (_GET, "/volumes/{volume}"),
        ("POST", "/volumes/create"),
        ("POST", "/volumes/prune"),
        ("PUT", "/volumes/{volume}"),
        ("DELETE", "/volumes/{volume}"),
    ]
)
_VERSION = re.compile(r"/v[0-9]+(?:\.[0-9]+)?(?=/)")
# Characters that never appear in a canonical decoded path (they would be split or re-read by someone).
_NOT_IN_PATH = re.compile(r"[%?#\\\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Which route a path takes and the object it names ("" when none)."""

    route: Route | None
    reference: str = ""

    @property
    def kind(self) -> Kind | None:
        return self.route.kind if self.route is not None else None


def match_route(method: str, path: str) -> RouteMatch:
    """The route a canonical, unversioned, decoded path takes for `method` (route None: not in the table)."""
    method = method.upper()
    for route in ROUTES:
        if method in route.methods:
            found = route.pattern.fullmatch(path)
            if found is not None:
                return RouteMatch(route, route.reference(found))
    return RouteMatch(None)


def _encode_reference(value: str) -> str:
    # '/', ':' and '@' are how the CLI sends image references; the grammar guarantees no dot segments.
    return quote(value, safe="/:@")


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """A Docker API call exactly as it will reach the engine (without the `/vX.Y` the sender adds)."""

    method: str
    path: str  # canonical: each reference one percent-encoded segment, no version prefix
    query: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    body: bytes = b""
    version: str = ""  # "v1.41" when the client named one (the gateway); "" lets the sender choose
    match: RouteMatch = field(default_factory=lambda: RouteMatch(None), compare=False)

    @classmethod
    def build(
        cls,
        method: str,
        template: str,
        reference: str = "",
        *,
        query: dict[str, Any] | list[tuple[str, Any]] | None = None,
        content_type: str | None = None,
        body: bytes = b"",
        field: str | None = None,
    ) -> EngineRequest:
        """A request to a route of the table; `reference` fills its placeholder (checked, encoded).

        `query` values: a list gives a repeated parameter; None leaves the parameter out.
        """
        method = method.upper()
        route = next((r for r in ROUTES if r.template == template and method in r.methods), None)
        if route is None:
            raise ValueError(f"{method} {template} is not in the engine route table")
        path = template
        if route.kind is not None:
            check_reference(route.kind, reference, field)
            path = template.replace("{" + route.kind.value + "}", _encode_reference(reference))
        return cls(method, path, _pairs(query), content_type, body, match=RouteMatch(route, reference))

    @classmethod
    def parse(
        cls,
        method: str,
        raw_path: str,
        raw_query: str = "",
        *,
        content_type: str | None = None,
        body: bytes = b"",
    ) -> EngineRequest:
        """A request as a Docker client sent it (the gateway): decoded as dockerd decodes it, refused
        (BadReference) unless canonical, and re-encoded so the engine routes on what admission saw."""
        method = method.upper()
        try:
            # gorilla/mux routes dockerd's calls on the decoded path: %2F is a '/', %3F a '?'.
            path = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
        except UnicodeDecodeError:
            raise BadReference("path", f"{raw_path!r} is not UTF-8 once decoded.") from None
        version = ""
        found = _VERSION.match(path)
        if found is not None:
            version, path = path[1 : found.end()], path[found.end() :]
        segments = path.split("/")
        if (
            not path.startswith("/")
            or _NOT_IN_PATH.search(path)
            or any(segment in (".", "..") for segment in segments)
            or "" in segments[1:-1]
            or (path.endswith("/") and path != "/networks/")
        ):
            raise BadReference(
                "path",
                "Dot segments, empty or trailing segments and escaped '%', '?' or '#' are not accepted in "
                f"Docker API paths (dockerd would read {raw_path!r} differently).",
            )
        match = match_route(method, path)
        if match.route is not None and match.route.kind is not None:
            check_reference(match.route.kind, match.reference, match.route.kind.value)
            path = match.route.template.replace(
                "{" + match.route.kind.value + "}", _encode_reference(match.reference)
            )
        return cls(method, path, parse_query(raw_query), content_type, body, version, match)

    @property
    def reference(self) -> str:
        """The object named in the path ("" for none)."""
        return self.match.reference

    @property
    def kind(self) -> Kind | None:
        return self.match.kind

    @property
    def query_dict(self) -> dict[str, list[str]]:
        """The query as name -> values (repeated names kept in order)."""
        result: dict[str, list[str]] = {}
        for name, value in self.query:
            result.setdefault(name, []).append(value)
        return result

    @property
    def query_string(self) -> str:
        return urlencode(self.query)

    def target(self, version: str | None = None) -> str:
        """The request target: `/vX.Y` (the given version, else the client's) + path + query."""
        chosen = self.version if version is None else version
        prefix = f"/{chosen}" if chosen else ""
        query = self.query_string
        return f"{prefix}{self.path}{'?' + query if query else ''}"

    def with_body(self, body: bytes | None) -> EngineRequest:
        """The same request with another body (admission added defaults or owner labels); None: unchanged."""
        if body is None:
            return self
        return EngineRequest(
            self.method, self.path, self.query, self.content_type or "application/json", body,
            self.version, self.match,
        )  # fmt: skip


# RFC 9110 media type with parameters, as Go's mime.ParseMediaType accepts it; anything else (control or
# non-ASCII bytes, lists of types, stray separators) is refused rather than guessed at.
_MEDIA_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - RFC 9110 token characters, not a secret
_MEDIA_PARAMETER = rf"[ \t]*;[ \t]*{_MEDIA_TOKEN}=(?:{_MEDIA_TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\")"
_MEDIA_TYPE = re.compile(rf"{_MEDIA_TOKEN}/{_MEDIA_TOKEN}(?:{_MEDIA_PARAMETER})*[ \t]*")


def check_content_type(value: str | None) -> None:
    """Raise BadReference unless `value` (a Content-Type header) is one well-formed media type."""
    if value is not None and not _MEDIA_TYPE.fullmatch(value):
        raise BadReference("Content-Type", f"{value[:80]!r} is not a single well-formed media type.")


def _pairs(query: dict[str, Any] | list[tuple[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    items = list(query.items()) if isinstance(query, dict) else list(query or [])
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if one is None:
                continue
            pairs.append((name, _query_value(one)))
    return tuple(pairs)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    """Query pairs as Go's url.ParseQuery reads them, or BadReference for what Go would drop or refuse
    (a ';' separator, a broken percent-escape), so the engine never reads a query admission did not."""
    if not raw:
        return ()
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        if ";" in part:
            raise BadReference("query", "';' is not a query separator; use '&'.")
        name, _, value = part.partition("=")
        pairs.append((_unquote_query(name), _unquote_query(value)))
    return tuple(pairs)


_BROKEN_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")


def _unquote_query(text: str) -> str:
    if _BROKEN_ESCAPE.search(text):
        raise BadReference("query", f"{text[:60]!r} has a broken percent-escape.")
    try:
        return unquote(text.replace("+", " "), errors="strict")
    except UnicodeDecodeError:
        raise BadReference("query", f"{text[:60]!r} is not UTF-8 once decoded.") from None
