"""Inventory workflows: register, change and refresh hosts. Views, commands and tasks call these."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from hosts.crypto import DecryptionError
from hosts.engine import EngineError, EngineTarget, async_client, open_engine, parse_engine_url
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.engine.tls import TLSMaterial, TLSMaterialError, validate_material
from hosts.models import Host, HostStatus

logger = logging.getLogger(__name__)

LOCAL_HOST_NAME = "local"


@dataclass(frozen=True)
class EngineFacts:
    """What `docker info` and `docker version` say about an engine, as stored in a host's snapshot."""

    engine_id: str
    engine_version: str
    api_version: str
    os_type: str
    operating_system: str
    architecture: str
    kernel_version: str
    ncpu: int | None
    mem_total: int | None
    containers_running: int | None
    containers_paused: int | None
    containers_stopped: int | None
    images: int | None


def facts_from(info: dict[str, Any], version: dict[str, Any]) -> EngineFacts:
    """The snapshot facts in `GET /info` and `GET /version` answers."""
    return EngineFacts(
        engine_id=str(info.get("ID") or ""),
        engine_version=str(version.get("Version") or info.get("ServerVersion") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        os_type=str(info.get("OSType") or ""),
        operating_system=str(info.get("OperatingSystem") or ""),
        architecture=str(info.get("Architecture") or ""),
        kernel_version=str(info.get("KernelVersion") or ""),
        ncpu=info.get("NCPU"),
        mem_total=info.get("MemTotal"),
        containers_running=info.get("ContainersRunning"),
        containers_paused=info.get("ContainersPaused"),
        containers_stopped=info.get("ContainersStopped"),
        images=info.get("Images"),
    )


async def probe_engine_async(target: EngineTarget) -> EngineFacts:
    """Ask the engine for info and version; raises EngineError (HostUnreachable, ...)."""
    connect, read = settings.ENGINE_CONNECT_TIMEOUT, settings.ENGINE_READ_TIMEOUT
    with translate_errors(target.name, connect_timeout=connect, read_timeout=read):
        # One deadline for the whole probe, counted from its start: a host that stalls anywhere costs
        # exactly the read timeout, however busy the worker is with the other hosts.
        async with asyncio.timeout(read), async_client(target) as client:
            # Unversioned paths: the engine answers in its own newest version, no negotiation round trip.
            # One after the other on one kept-alive connection: one TLS handshake per probe, not two.
            info = await client.get("/info")
            raise_for_status(info, target.name)
            version = await client.get("/version")
            raise_for_status(version, target.name)
        return facts_from(info.json(), version.json())


def probe_engine(target: EngineTarget) -> EngineFacts:
    """Synchronous `probe_engine_async`, for commands and views."""
    return async_to_sync(probe_engine_async)(target)


def _up(facts: EngineFacts) -> dict[str, Any]:
    return {**asdict(facts), "status": HostStatus.UP, "status_error": "", "last_checked_at": timezone.now()}


def _down(reason: str) -> dict[str, Any]:
    # The last known facts stay: a down host still shows which engine it was.
    return {"status": HostStatus.DOWN, "status_error": reason, "last_checked_at": timezone.now()}


def validate_target(target: EngineTarget) -> None:
    """Check the URL and TLS material of a would-be host; raises ValidationError naming the field."""
    try:
        address = parse_engine_url(target.url)
    except ValueError as exc:
        raise ValidationError({"url": str(exc)}) from exc
    try:
        validate_material(target.tls)
    except TLSMaterialError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    if address.scheme == "unix" and (target.tls.ca or target.tls.cert):
        field = "tls_ca" if target.tls.ca else "tls_cert"
        raise ValidationError(
            {field: "TLS material applies to tcp:// engines only; this URL is a unix socket."}
        )


def check_connection(target: EngineTarget) -> EngineFacts:
    """Validate and connect; an unreachable engine is a ValidationError on `url` carrying the reason."""
    validate_target(target)
    try:
        return probe_engine(target)
    except EngineError as exc:
        raise ValidationError({"url": f"Cannot reach the engine at {target.url}: {exc.message}"}) from exc


def register_host(
    *,
    name: str,
    url: str,
    tls: TLSMaterial | None = None,
    labels: dict[str, str] | None = None,
    policy: dict[str, Any] | None = None,
    unowned_access: bool = False,
    created_by: Any = None,
    check: bool = True,
) -> Host:
    """Add a host to the inventory, by default only after it answered; raises ValidationError."""
    target = EngineTarget(name=name, url=url.strip(), tls=tls or TLSMaterial())
    host = Host(
        name=name,
        url=target.url,
        tls_ca=target.tls.ca,
        tls_cert=target.tls.cert,
        tls_key=target.tls.key,
        tls_verify=target.tls.verify,
        labels=labels or {},
        policy=policy or {},
        unowned_access=unowned_access,
        created_by=created_by,
    )
    host.full_clean(exclude=["created_by"])
    if check:
        for key, value in _up(check_connection(target)).items():
            setattr(host, key, value)
    else:
        validate_target(target)
    _save(host)
    logger.info("host %s registered (%s)", host.name, host.url)
    return host


def _save(host: Host) -> None:
    try:
        with transaction.atomic():
            host.save()
    except IntegrityError as exc:
        # full_clean checked the name, but another request may have taken it since.
        raise ValidationError({"name": f"A host named {host.name!r} already exists."}) from exc


def update_host(host: Host, changes: dict[str, Any], *, check: bool = True) -> Host:
    """Apply changes to name, url, TLS material, labels; reconnects when the address or TLS changed."""
    for key, value in changes.items():
        setattr(host, key, value)
    host.full_clean(exclude=["created_by"])
    target = EngineTarget.of(host)
    connection_changed = bool({"url", "tls_ca", "tls_cert", "tls_key", "tls_verify"} & changes.keys())
    if connection_changed and check:
        facts = check_connection(replace(target, api_version=""))
        for key, value in _up(facts).items():
            setattr(host, key, value)
    else:
        validate_target(target)
    _save(host)
    return host


def _save_snapshot(host: Host, fields: dict[str, Any]) -> None:
    # Only snapshot fields are written, so a concurrent edit of name, url or labels is never overwritten.
    Host.objects.filter(pk=host.pk).update(**fields)
    for key, value in fields.items():
        setattr(host, key, value)


def refresh_hosts(host_ids: list[int]) -> list[Host]:
    """Probe the hosts concurrently, saving each snapshot the moment its engine answers (or fails).

    A dead host costs its own timeout and nothing more: healthy hosts are saved long before it gives up.
    """
    hosts = list(Host.objects.filter(pk__in=host_ids))
    save = sync_to_async(_save_snapshot)

    async def refresh(host: Host) -> None:
        try:
            fields = _up(await probe_engine_async(EngineTarget.of(host)))
        except EngineError as exc:
            fields = _down(exc.message)
        except DecryptionError as exc:
            fields = _down(str(exc))
        await save(host, fields)

    async def refresh_all() -> None:
        await asyncio.gather(*(refresh(host) for host in hosts))

    async_to_sync(refresh_all)()
    return hosts


def refresh_host(host_id: int) -> Host | None:
    """Probe one host and save its snapshot; an unreachable host is saved as down with the reason."""
    refreshed = refresh_hosts([host_id])
    return refreshed[0] if refreshed else None


def host_ids_to_refresh() -> list[int]:
    """Every host, those not up at the last check first: they are the ones that may wait for a timeout."""
    not_up_first = Case(When(status=HostStatus.UP, then=Value(1)), default=Value(0))
    return list(Host.objects.order_by(not_up_first, "pk").values_list("pk", flat=True))


def live_info(host: Host) -> dict[str, Any]:
    """`docker info` and `docker version` as the engine reports them now."""
    with open_engine(EngineTarget.of(host)) as client:
        return {"info": client.info(), "version": client.version()}


def ping(host: Host) -> dict[str, Any]:
    """Round-trip to the engine's `_ping`, with the measured latency."""
    started = timezone.now()
    with open_engine(EngineTarget.of(host)) as client:
        client.ping()
        api_version = client.api.api_version
    latency_ms = (timezone.now() - started).total_seconds() * 1000
    return {"ok": True, "api_version": api_version, "latency_ms": round(latency_ms, 2)}


def local_engine_target() -> EngineTarget:
    """The engine the local docker CLI would use: DOCKER_HOST (with its TLS env) or the default socket."""
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    tls = TLSMaterial()
    cert_path = os.environ.get("DOCKER_CERT_PATH")
    if url.startswith("tcp://") and cert_path:
        files = {name: Path(cert_path, f"{name}.pem") for name in ("ca", "cert", "key")}
        pem = {name: path.read_text() if path.is_file() else "" for name, path in files.items()}
        tls = TLSMaterial(**pem, verify=os.environ.get("DOCKER_TLS_VERIFY", "") not in ("", "0"))
    return EngineTarget(name=LOCAL_HOST_NAME, url=url, tls=tls)


def ensure_local_host(marker: Path) -> Host | None:
    """On first start, register the local engine as host `local` (even when down, with the reason)."""
    if marker.exists() or Host.objects.filter(name=LOCAL_HOST_NAME).exists():
        return None
    target = local_engine_target()
    host = register_host(
        name=LOCAL_HOST_NAME, url=target.url, tls=target.tls, labels={"dockerweb.local": "true"}, check=False
    )
    # One person's own machine: objects started outside dockerweb (no owner label) are theirs to manage.
    Host.objects.filter(pk=host.pk).update(unowned_access=True)
    marker.touch()
    return refresh_host(host.pk)


def validation_message(exc: ValidationError) -> str:
    """A ValidationError as one line, `field: message; field: message`, for commands and import reports."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)
