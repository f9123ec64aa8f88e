"""Celery tasks for hosts: thin wrappers that take ids and call hosts.services."""

from __future__ import annotations

from celery import group, shared_task
from django.conf import settings

from hosts import services


@shared_task(name="hosts.refresh_host", acks_late=True, ignore_result=True)
def refresh_host(host_id: int) -> None:
    """Refresh one host's snapshot (idempotent: a re-delivery just probes again)."""
    services.refresh_host(host_id)


@shared_task(name="hosts.refresh_all_hosts", ignore_result=True)
def refresh_all_hosts() -> int:
    """Fan out one refresh per host, so a slow or dead host never delays the others."""
    host_ids = services.host_ids_to_refresh()
    if host_ids:
        group(refresh_host.s(host_id) for host_id in host_ids).apply_async(
            expires=settings.HOST_REFRESH_INTERVAL
        )
    return len(host_ids)
