"""The one factory for engine clients.

- `open_engine(target)`: the docker SDK (synchronous work: info, inspect, lifecycle calls) with explicit
  connect/read timeouts and the API version negotiated once per engine and cached.
- `async_client(target)`: an httpx.AsyncClient for streaming (logs, events, stats, progress). httpx was
  chosen over aiodocker because it speaks both transports we need (unix socket and TLS with an in-memory
  SSLContext) with per-phase timeouts and true streaming, and it leaves the Docker API shapes to us, which
  the gateway and the consumers need anyway.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

import docker
import httpx
import requests.adapters
from django.conf import settings

from hosts.engine.errors import translate_errors
from hosts.engine.request import EngineRequest
from hosts.engine.tls import TLSMaterial, ssl_context

if TYPE_CHECKING:
    from hosts.models import Host

SUPPORTED_SCHEMES = ("unix", "tcp")


@dataclass(frozen=True)
class EngineAddress:
    scheme: str  # "unix" or "tcp"
    socket_path: str = ""
    hostname: str = ""
    port: int = 0


def parse_engine_url(url: str) -> EngineAddress:
    """Parse `unix:///path` or `tcp://host:port`; raises ValueError with a message for the user."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SUPPORTED_SCHEMES:
        shown = parts.scheme or "none"
        raise ValueError(f"Unsupported scheme {shown!r}: use unix:///path/to/docker.sock or tcp://host:port.")
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError("A unix URL needs an absolute socket path: unix:///var/run/docker.sock.")
        return EngineAddress("unix", socket_path=parts.path)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Invalid port in {url!r}.") from exc
    if not parts.hostname or port is None:
        raise ValueError("A tcp URL needs a host and a port: tcp://docker.example.com:2376.")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("A tcp URL takes no path or query: tcp://host:port.")
    return EngineAddress("tcp", hostname=parts.hostname, port=port)


@dataclass(frozen=True)
class EngineTarget:
    """Everything needed to reach one engine; built from a Host, or from form input before a Host exists."""

    name: str
    url: str
    tls: TLSMaterial = field(default_factory=TLSMaterial)
    api_version: str = ""

    @classmethod
    def of(cls, host: Host) -> EngineTarget:
        return cls(
            name=host.name,
            url=host.url,
            tls=TLSMaterial(ca=host.tls_ca, cert=host.tls_cert, key=host.tls_key, verify=host.tls_verify),
            api_version=host.api_version,
        )

    @property
    def address(self) -> EngineAddress:
        return parse_engine_url(self.url)

    @property
    def uses_tls(self) -> bool:
        return self.address.scheme == "tcp" and bool(self.tls.ca or self.tls.cert)


class _ContextAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter that uses our SSLContext as is (CA, client chain and verification mode)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would otherwise add certifi's public CAs to the context or switch verification off.
        conn.cert_reqs = "CERT_REQUIRED" if self._context.verify_mode != ssl.CERT_NONE else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


# Negotiated API versions by engine URL: one `GET /version` per engine and process, not per client.
_api_versions: dict[str, str] = {}
_api_versions_lock = threading.Lock()


def _timeouts(read_timeout: float | None) -> tuple[float, float | None]:
    return settings.ENGINE_CONNECT_TIMEOUT, (
        settings.ENGINE_READ_TIMEOUT if read_timeout is None else read_timeout
    )


def _sdk_client(target: EngineTarget, read_timeout: float | None) -> docker.DockerClient:
    client = _new_sdk_client(target, read_timeout)
    # requests would honour HTTPS_PROXY and REQUESTS_CA_BUNDLE from the environment: neither applies to
    # an engine, whose address and CA come from the inventory alone.
    client.api.trust_env = False
    return client


def _new_sdk_client(target: EngineTarget, read_timeout: float | None) -> docker.DockerClient:
    address = target.address
    connect, read = _timeouts(read_timeout)
    version = target.api_version or _api_versions.get(target.url) or "auto"
    if address.scheme == "unix":
        # The SDK's unix adapter takes one number (socket timeout); connecting to a socket file is instant.
        return docker.DockerClient(base_url=f"unix://{address.socket_path}", version=version, timeout=read)
    timeout: Any = (connect, read)
    if not target.uses_tls:
        return docker.DockerClient(
            base_url=f"tcp://{address.hostname}:{address.port}", version=version, timeout=timeout
        )
    # Construct without negotiating, mount our adapter, then negotiate over TLS.
    client = docker.DockerClient(
        base_url=f"tcp://{address.hostname}:{address.port}", version="1.24", timeout=timeout, tls=True
    )
    client.api.mount("https://", _ContextAdapter(ssl_context(target.tls)))
    client.api.trust_env = False
    client.api._version = version if version != "auto" else client.api._retrieve_server_version()
    return client


@contextmanager
def open_engine(target: EngineTarget, *, read_timeout: float | None = None) -> Iterator[docker.DockerClient]:
    """A docker SDK client for `target`, closed on exit; every failure is raised as an EngineError."""
    connect, read = _timeouts(read_timeout)
    with translate_errors(target.name, connect_timeout=connect, read_timeout=read or 0):
        client = _sdk_client(target, read_timeout)
        try:
            with _api_versions_lock:
                _api_versions.setdefault(target.url, client.api.api_version)
            yield client
        finally:
            client.close()


def forget_api_version(url: str) -> None:
    """Drop the cached version (the engine was upgraded or replaced)."""
    with _api_versions_lock:
        _api_versions.pop(url, None)


def async_client(target: EngineTarget, *, read_timeout: float | None = None) -> httpx.AsyncClient:
    """An httpx client whose base URL is the engine; pass `read_timeout=None`-like long values for streams."""
    address = target.address
    connect, read = _timeouts(read_timeout)
    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
    if target.uses_tls:
        transport = httpx.AsyncHTTPTransport(verify=ssl_context(target.tls))
        return httpx.AsyncClient(
            base_url=f"https://{address.hostname}:{address.port}", transport=transport, timeout=timeout
        )
    # verify=False: these transports never speak TLS, and httpx would otherwise load the whole public CA
    # bundle for each client (tens of milliseconds of CPU each).
    if address.scheme == "unix":
        transport = httpx.AsyncHTTPTransport(uds=address.socket_path, verify=False)
        base_url = "http://docker"
    else:
        transport = httpx.AsyncHTTPTransport(verify=False)
        base_url = f"http://{address.hostname}:{address.port}"
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout, trust_env=False)


def send(
    client: docker.DockerClient,
    request: EngineRequest,
    *,
    stream: bool = False,
    timeout: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """Send `request` exactly as built and admitted (only the negotiated `/vX.Y` is added); raises the
    engine's error status as docker.errors.APIError (open_engine turns it into an EngineError).

    `data` streams a large body (a tar upload) that admission had no need to read; it is refused for a
    request that carries a body of its own, which admission did read. `headers` carry registry credentials
    the engine hands on (X-Registry-Auth), nothing admission decides on."""
    if data is not None and request.body:
        raise ValueError("a request admitted with a body is sent with that body")
    api = client.api
    headers = {**(headers or {}), **({"Content-Type": request.content_type} if request.content_type else {})}
    kwargs: dict[str, Any] = {"timeout": api.timeout if timeout is None else timeout}
    response = api.request(  # the SDK client is a requests.Session with the engine adapter mounted
        request.method,
        api.base_url + request.target(f"v{api._version}"),
        data=request.body or data,
        headers=headers,
        stream=stream,
        **kwargs,
    )
    api._raise_for_status(response)
    return response


def send_json(client: docker.DockerClient, request: EngineRequest) -> Any:
    """`send`, then the engine's JSON answer (None for an empty body)."""
    response = send(client, request)
    return response.json() if response.content else None


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?")
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\U0010ffff]")
REGISTRY_SCHEMES = ("http", "https")


def _check_location(parts: SplitResult, example: str) -> None:
    """A network location as every address dockerweb dials must have it: host[:port], nothing more."""
    if "@" in parts.netloc:
        raise ValueError(f"Give the address without a user name or password: {example}.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"The port must be a number from 1 to 65535: {example}.") from exc
    if (port is None and parts.netloc.endswith(":")) or (port is not None and not 1 <= port <= 65535):
        raise ValueError(f"The port must be a number from 1 to 65535: {example}.")
    host = parts.hostname or ""
    if parts.netloc.split("]")[0].startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError(f"{host!r} is not an IPv6 address: {example}.") from exc
        return
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a host name or IP address: {example}.")


def validate_address(url: str, kind: str) -> str:
    """The one check of an address given to dockerweb: an engine's URL (`kind="engine"`: unix:///path or
    tcp://host:port, as `parse_engine_url` reads it) or a registry's API URL (`kind="registry"`:
    http(s)://host[:port]). Returns it as stored (trimmed; a registry's without a trailing slash); raises
    ValueError with a message for the user. Nothing that a later parser could read differently passes:
    no user info, no fragment, no query, no spaces or control characters, no non-ASCII host."""
    value = url.strip()
    if kind == "engine":
        example = "unix:///var/run/docker.sock or tcp://docker.example.com:2376"
    elif kind == "registry":
        example = "https://registry.example.com"
    else:
        raise ValueError(f"Unknown kind of address {kind!r}.")
    if _UNPRINTABLE.search(value) or "\\" in value:
        raise ValueError(f"An address has no spaces, backslashes or non-ASCII characters: {example}.")
    parts = urlsplit(value)
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"An address takes no query or fragment: {example}.")
    if kind == "engine":
        if parse_engine_url(value).scheme == "tcp":
            _check_location(parts, example)
        return value
    if parts.scheme not in REGISTRY_SCHEMES or not parts.hostname:
        raise ValueError(f"Give the registry's base URL: {example}.")
    if parts.path not in ("", "/"):
        raise ValueError(f"Give the base URL without a path (dockerweb adds /v2/): {example}.")
    _check_location(parts, example)
    return value.rstrip("/")


def validate_registry_server(server: str) -> str:
    """The registry as image names carry it (host or host:port, lowercase), checked like every address."""
    value = server.strip()
    example = "registry.example.com:5000"
    if not value or _UNPRINTABLE.search(value) or any(c in value for c in "/?#@\\"):
        raise ValueError(f"Give the registry as image names carry it, host or host:port: {example}.")
    _check_location(urlsplit(f"//{value}"), example)
    return value.lower()
