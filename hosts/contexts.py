"""Docker CLI contexts as hosts: read from a docker config dir (`manage.py importcontexts`) or from the files
`docker context export NAME` writes (uploaded through the REST API and the dashboard), then registered
through hosts.services like any other host.

A context is `meta.json` (name, description, the docker endpoint's Host and SkipTLSVerify) plus its TLS
files. In a config dir they live apart (contexts/meta/<id>/meta.json, contexts/tls/<id>/docker/*.pem); an
export is a tar of meta.json and tls/docker/*.pem.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError

from hosts import services
from hosts.engine.tls import TLSMaterial
from hosts.models import Host

MAX_EXPORT_BYTES = 1024 * 1024  # meta.json and three PEM files; anything bigger is not a context export
_TLS_FILES = {"ca.pem": "ca", "cert.pem": "cert", "key.pem": "key"}


class ContextError(ValueError):
    """A context that cannot be read; the message names what is wrong."""


@dataclass(frozen=True)
class DockerContext:
    name: str
    url: str
    description: str
    tls: TLSMaterial


class Outcome(StrEnum):
    ADDED = "added"
    SKIPPED = "skipped"  # a host of that name exists: never overwritten
    FAILED = "failed"


@dataclass(frozen=True)
class ImportResult:
    name: str
    outcome: Outcome
    message: str
    host: Host | None = None


def parse_meta(raw: bytes | str, tls: dict[str, str]) -> DockerContext:
    """A context from its meta.json and its TLS files' texts (by ca/cert/key)."""
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ContextError(f"meta.json is not JSON: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("Name"), str) or not meta["Name"]:
        raise ContextError("meta.json names no context (no Name).")
    endpoint = (meta.get("Endpoints") or {}).get("docker")
    if not isinstance(endpoint, dict) or not endpoint.get("Host"):
        raise ContextError(f"Context {meta['Name']!r} has no docker endpoint host.")
    description = str((meta.get("Metadata") or {}).get("Description") or "")
    material = TLSMaterial(
        ca=tls.get("ca", ""),
        cert=tls.get("cert", ""),
        key=tls.get("key", ""),
        verify=not endpoint.get("SkipTLSVerify"),
    )
    return DockerContext(meta["Name"], str(endpoint["Host"]), description, material)


def from_config_dir(config_dir: Path) -> Iterator[DockerContext | ContextError]:
    """Every context of a docker config dir, or the error that makes one unreadable."""
    root = config_dir / "contexts"
    for meta_file in sorted((root / "meta").glob("*/meta.json")):
        # The CLI keeps a context's TLS files under the same hashed folder name as its meta.json.
        tls_dir = root / "tls" / meta_file.parent.name / "docker"
        try:
            tls = {
                key: (tls_dir / name).read_text()
                for name, key in _TLS_FILES.items()
                if (tls_dir / name).is_file()
            }
            yield parse_meta(meta_file.read_bytes(), tls)
        except (OSError, UnicodeDecodeError) as exc:
            yield ContextError(f"{meta_file}: unreadable ({exc})")
        except ContextError as exc:
            yield ContextError(f"{meta_file}: {exc}")


def from_export(stream: IO[bytes]) -> DockerContext:
    """The context in a `docker context export` file (a tar; the CLI leaves out the end-of-archive blocks,
    so a tar that simply stops after its last file is accepted)."""
    meta: bytes | None = None
    tls: dict[str, str] = {}
    try:
        archive = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise ContextError(
            "Not a docker context export (docker context export NAME FILE writes one)."
        ) from exc
    with archive:
        while True:
            try:
                member = archive.next()
            except tarfile.ReadError:
                break  # the missing end-of-archive blocks
            if member is None:
                break
            name = member.name.removeprefix("./")
            wanted = name == "meta.json" or (name.startswith("tls/docker/") and name[11:] in _TLS_FILES)
            if not member.isfile() or not wanted:
                continue
            handle = archive.extractfile(member)
            content = handle.read() if handle is not None else b""
            if name == "meta.json":
                meta = content
            else:
                try:
                    tls[_TLS_FILES[name[11:]]] = content.decode()
                except UnicodeDecodeError as exc:
                    raise ContextError(f"{name} is not a PEM file.") from exc
    if meta is None:
        raise ContextError("Not a docker context export: it has no meta.json.")
    return parse_meta(meta, tls)


def import_contexts(
    contexts: Iterable[DockerContext | ContextError], *, created_by: Any = None, check: bool = True
) -> list[ImportResult]:
    """Register each context as a host (checked against its engine unless `check` is false); hosts that
    exist by name are left alone. One result per context, in order; nothing is half-added."""
    results = []
    for context in contexts:
        if isinstance(context, ContextError):
            results.append(ImportResult("", Outcome.FAILED, str(context)))
            continue
        if Host.objects.filter(name=context.name).exists():
            message = "A host with this name exists; it was left as it is."
            results.append(ImportResult(context.name, Outcome.SKIPPED, message))
            continue
        try:
            host = services.register_host(
                name=context.name, url=context.url, tls=context.tls, created_by=created_by, check=check
            )
        except ValidationError as exc:
            results.append(ImportResult(context.name, Outcome.FAILED, services.validation_message(exc)))
            continue
        version = f"Docker {host.engine_version}" if host.engine_version else "not checked"
        results.append(ImportResult(host.name, Outcome.ADDED, f"{host.url}: {version}", host))
    return results
