"""Talking to Docker registries: the v2 API (ping, catalog, tags) with Basic or Bearer-token auth, and the
`X-Registry-Auth` / `X-Registry-Config` headers that hand a registry's credentials to an engine.

Credentials never leave this module except inside those headers, which go to engines only.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from hosts.policy import normalize_image
from images.models import Registry

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_PAGE = 1000
SEARCH_PAGES = 20  # a search scans at most this many catalog pages
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
ANONYMOUS_AUTH = "e30="  # base64url of "{}": what the docker CLI sends without credentials


class RegistryError(Exception):
    """The registry could not be reached or refused; `status` is its HTTP status when it answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def auth_config(registry: Registry | None) -> dict[str, str]:
    """The engine's AuthConfig for `registry` (empty without credentials)."""
    if registry is None or not (registry.username or registry.password):
        return {}
    return {"username": registry.username, "password": registry.password, "serveraddress": registry.address}


def credentials_for(user: Any, image: str) -> dict[str, str]:
    """The AuthConfig for pulling `image` as `user`: the matching registry they may use, or anonymous."""
    return auth_config(matching_registry(Registry.objects.usable_by(user).prefetch_related("teams"), image))


def registry_auth_header(registry: Registry | None) -> str:
    """The `X-Registry-Auth` value for a pull or push."""
    config = auth_config(registry)
    return _b64(config) if config else ANONYMOUS_AUTH


def registry_config_header(registries: Iterable[Registry]) -> str:
    """The `X-Registry-Config` value for a build: credentials by registry address."""
    return _b64({r.address: auth_config(r) for r in registries if auth_config(r)})


def registry_of(image: str) -> str:
    """The registry address an image reference names ('busybox' -> 'docker.io')."""
    return normalize_image(image).split("/", 1)[0]


def matching_registry(registries: Iterable[Registry], image: str) -> Registry | None:
    """The registry an image lives in among `registries`; team-restricted ones win over shared ones."""
    address = registry_of(image)
    found = [r for r in registries if r.address == address]
    found.sort(key=lambda r: (not r.teams.exists(), r.name))
    return found[0] if found else None


def split_reference(image: str) -> tuple[str, str]:
    """'localhost:5000/web:1' -> ('localhost:5000/web', '1'); a missing tag is 'latest'; digests stay."""
    if "@" in image:
        return image.split("@", 1)[0], image.split("@", 1)[1]
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, "latest"


class _RegistryAuth(httpx.Auth):
    """Answers a registry's 401 challenge: Basic, or the Bearer-token dance (token per scope, cached)."""

    requires_response_body = True

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self._tokens: dict[str, str] = {}

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scope_key = request.url.path
        if scope_key in self._tokens:
            request.headers["Authorization"] = f"Bearer {self._tokens[scope_key]}"
        response = yield request
        if response.status_code != 401:
            return
        scheme, _, rest = response.headers.get("www-authenticate", "").partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        if scheme.lower() == "basic" and (self.username or self.password):
            request.headers["Authorization"] = self._basic()
            yield request
        elif scheme.lower() == "bearer" and params.get("realm"):
            query = {k: v for k, v in params.items() if k in ("service", "scope")}
            token_request = httpx.Request("GET", params["realm"], params=query)
            if self.username or self.password:
                token_request.headers["Authorization"] = self._basic()
            token_response = yield token_request
            if token_response.status_code != 200:
                return  # the original 401 stands; the caller reports it
            body = token_response.json()
            token = body.get("token") or body.get("access_token") or ""
            self._tokens[scope_key] = token
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def _verify(registry: Registry) -> ssl.SSLContext | bool:
    if not registry.tls_verify:
        return False
    context = ssl.create_default_context()
    if registry.tls_ca.strip():
        context = ssl.create_default_context(cadata=registry.tls_ca)
    return context


def client_for(registry: Registry) -> httpx.Client:
    """An HTTP client for the registry's v2 API, authenticating on demand."""
    return httpx.Client(
        base_url=registry.url.rstrip("/"),
        auth=_RegistryAuth(registry.username, registry.password),
        verify=_verify(registry),
        timeout=TIMEOUT,
        # Like engines, registries are reached at the address the inventory names, never via env proxies.
        trust_env=False,
    )


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase


def _get(registry: Registry, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    try:
        with client_for(registry) as client:
            response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise RegistryError(f"registry {registry.name!r} at {registry.url} is unreachable: {exc}") from exc
    if response.status_code >= 400:
        detail = _error_text(response)
        raise RegistryError(
            f"registry {registry.name!r} answered {response.status_code}: {detail}", response.status_code
        )
    return response


def check(registry: Registry) -> dict[str, Any]:
    """`GET /v2/` with the stored credentials: whether the registry accepts them, and what it said."""
    try:
        response = _get(registry, "/v2/")
    except RegistryError as exc:
        return {"ok": False, "status": exc.status, "detail": exc.message}
    version = response.headers.get("docker-distribution-api-version", "")
    who = f"as {registry.username!r}" if registry.username else "anonymously"
    return {
        "ok": True,
        "status": response.status_code,
        "detail": f"{registry.url} accepted {who} ({version})",
    }


@dataclass(frozen=True)
class Page:
    items: list[str]
    next_last: str | None  # the `last` of the next page, None on the last page
    n: int | None


def _next(response: httpx.Response) -> tuple[str | None, int | None]:
    link = response.links.get("next", {}).get("url")
    if not link:
        return None, None
    query = parse_qs(urlsplit(link).query)
    n = query.get("n", [None])[0]
    return query.get("last", [""])[0] or None, int(n) if n and n.isdigit() else None


def catalog(registry: Registry, *, n: int | None = None, last: str | None = None) -> Page:
    """One page of the registry's repositories (`/v2/_catalog`)."""
    params = {k: v for k, v in (("n", n), ("last", last)) if v}
    response = _get(registry, "/v2/_catalog", params)
    next_last, next_n = _next(response)
    return Page(list(response.json().get("repositories") or []), next_last, next_n or n)


def tags(registry: Registry, repository: str, *, n: int | None = None, last: str | None = None) -> Page:
    """One page of a repository's tags (`/v2/<name>/tags/list`)."""
    params = {k: v for k, v in (("n", n), ("last", last)) if v}
    response = _get(registry, f"/v2/{repository}/tags/list", params)
    next_last, next_n = _next(response)
    return Page(sorted(response.json().get("tags") or []), next_last, next_n or n)


def search(registry: Registry, term: str, limit: int = 25) -> list[dict[str, Any]]:
    """Repositories whose name contains `term`, shaped like the engine's `/images/search` answer."""
    found: list[dict[str, Any]] = []
    last: str | None = None
    for _ in range(SEARCH_PAGES):
        page = catalog(registry, n=MAX_PAGE, last=last)
        found.extend(
            {
                "name": f"{registry.address}/{name}",
                "description": "",
                "star_count": 0,
                "is_official": False,
                "is_automated": False,
            }
            for name in page.items
            if term.lower() in name.lower()
        )
        if len(found) >= limit or page.next_last is None:
            break
        last = page.next_last
    return found[:limit]
