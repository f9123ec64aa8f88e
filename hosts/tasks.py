"""Celery tasks for hosts: thin wrappers that take ids and call hosts.services."""

from __future__ import annotations

from celery import group, shared_task
from django.conf import settings

from hosts import services

# Hosts per refresh task: each task probes its hosts concurrently (asyncio), and the group spreads the
# tasks over the worker's threads and over workers.
REFRESH_BATCH = 10


@shared_task(name="hosts.refresh_hosts", acks_late=True, ignore_result=True)
def refresh_hosts(host_ids: list[int]) -> None:
    """Refresh the snapshots of these hosts (idempotent: a re-delivery just probes again)."""
    services.refresh_hosts(host_ids)


@shared_task(name="hosts.refresh_host", acks_late=True, ignore_result=True)
def refresh_host(host_id: int) -> None:
    """Refresh one host's snapshot."""
    services.refresh_host(host_id)


@shared_task(name="hosts.refresh_all_hosts", ignore_result=True)
def refresh_all_hosts() -> int:
    """Refresh every host in parallel: a slow or dead host never delays the others."""
    host_ids = services.host_ids_to_refresh()
    batches = [host_ids[start : start + REFRESH_BATCH] for start in range(0, len(host_ids), REFRESH_BATCH)]
    if batches:
        group(refresh_hosts.s(batch) for batch in batches).apply_async(expires=settings.HOST_REFRESH_INTERVAL)
    return len(host_ids)
