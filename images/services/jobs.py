"""Job workflows around the worker: create (admitted first), see, cancel, retry; the per-host slots; the
broadcast of every change; stale-job detection.

Per-host limit: a job runs only after it claims a slot in a transaction that locks its host's row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE transactions serialize all writers), counts the
host's running jobs and marks itself running. Jobs without a slot stay queued; each finished job enqueues
the oldest waiting ones, and the stale-job beat task does the same as a safety net. The database is the
one place every web process and worker already shares, and a crashed worker's slot frees itself when its
job is marked lost, unlike a Redis semaphore whose holder died.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from hosts import access, audit, visibility
from hosts.access import Caller
from hosts.models import EntryPoint, Host, Outcome
from images import conf
from images.models import FINISHED, Job, JobKind, JobStatus, Registry
from images.services import contexts
from images.services.calls import admit_job, calls_for

logger = logging.getLogger(__name__)
ALL_JOBS_GROUP = "jobs.all"


class JobConflict(Exception):
    """The job is not in a state that allows this (cancel a finished job, retry a running one)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def job_group(job_id: Any) -> str:
    return f"job.{job_id}"


def user_group(user_id: Any) -> str:
    return f"jobs.user.{user_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def job_state(job: Job) -> dict[str, Any]:
    """The job as the API and the websockets show it (one shape for both)."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "host": job.host_id,
        "host_name": job.host.name,
        "user": job.user.get_username(),
        "registry": job.registry_id,
        "params": job.params,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "seq": job.seq,
    }


def load(job_id: Any) -> Job | None:
    return Job.objects.select_related("host", "user").filter(pk=job_id).first()


def state_of(job_id: Any) -> dict[str, Any] | None:
    job = load(job_id)
    return job_state(job) if job is not None else None


async def abroadcast(state: dict[str, Any]) -> None:
    """Send a job's state to its own group, its owner's and the all-jobs group; never fails the job."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "job.update", "job": state}
    try:
        for group in (job_group(state["id"]), user_group(state["user_id"]), ALL_JOBS_GROUP):
            await layer.group_send(group, message)
    except Exception:  # the job's record is what counts; a dropped broadcast is only a late screen
        logger.warning("could not broadcast job %s", state["id"], exc_info=True)


def broadcast(job_id: Any) -> None:
    """Broadcast the job's current state from synchronous code."""
    job = load(job_id)
    if job is not None:
        async_to_sync(abroadcast)({**job_state(job), "user_id": job.user_id})


def _enqueue(job_id: Any) -> None:
    from images.tasks import run_job  # the tasks module imports this one

    run_job.delay(str(job_id))


def _announce(job_id: Any) -> None:
    broadcast(job_id)
    _enqueue(job_id)


# Visibility


def visible_jobs(who: Caller) -> QuerySet[Job]:
    """Jobs the caller may see: their own, and every job on hosts where they are admin (hosts.visibility)."""
    return visibility.restrict_jobs(who, Job.objects.select_related("host", "user"))


def get_visible(who: Caller, job_id: Any) -> Job:
    job = visible_jobs(who).filter(pk=job_id).first()
    if job is None:
        raise access.AccessDenied(f"No job {job_id} is visible to you.", not_found=True)
    return job


# Creation


def split_secrets(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The params to store and show (secret build args redacted), and the secret values apart."""
    buildargs = params.get("buildargs") or {}
    secret = {name: value for name, value in buildargs.items() if audit.is_secret_name(name)}
    if not secret:
        return params, {}
    shown = {name: audit.REDACTED if name in secret else value for name, value in buildargs.items()}
    return {**params, "buildargs": shown}, {"buildargs": secret}


def run_params(job: Job) -> dict[str, Any]:
    """The params a run uses: the stored ones with the secret values put back."""
    if not job.secrets:
        return job.params
    secrets = json.loads(job.secrets)
    buildargs = {**(job.params.get("buildargs") or {}), **(secrets.get("buildargs") or {})}
    return {**job.params, "buildargs": buildargs}


def create_job(
    who: Caller,
    host: Host,
    kind: JobKind,
    params: dict[str, Any],
    *,
    registry: Registry | None = None,
    store: Callable[[], str] | None = None,
) -> Job:
    """Admit every engine call of the job, store its build context, record it queued; enqueued on commit.

    Admission comes first, so a refused build never writes its upload; a failure after the upload was
    stored removes it again (no half-made jobs).
    """
    admit_job(who, host, kind, params)
    shown, secrets = split_secrets(params)
    context = store() if store is not None else ""
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                host=host,
                user=who.user,
                params=shown,
                secrets=json.dumps(secrets) if secrets else "",
                registry=registry,
                context=context,
            )
            transaction.on_commit(partial(_announce, job.pk))
    except BaseException:
        contexts.remove(context)
        raise
    return Job.objects.select_related("host", "user").get(pk=job.pk)


# Cancel and retry


def _may_manage(who: Caller, job: Job) -> None:
    if job.user_id == getattr(who.user, "pk", None):
        return
    access.require(who, job.host, access.Action.ADMIN)


def cancel_job(who: Caller, job: Job) -> Job:
    """A queued job is cancelled at once; a running one is asked to stop (its worker closes the stream)."""
    _may_manage(who, job)
    now = timezone.now()
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED,
            cancel_requested=True,
            finished_at=now,
            updated_at=now,
            seq=F("seq") + 1,
        ):
            transaction.on_commit(partial(broadcast, job.pk))
            transaction.on_commit(partial(_record_outcome, job.pk, "Cancelled before it started."))
        elif Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested=True, updated_at=now, seq=F("seq") + 1
        ):
            transaction.on_commit(partial(broadcast, job.pk))
        else:
            raise JobConflict(f"Job {job.pk} has already {job.status}; there is nothing to cancel.")
    reloaded = load(job.pk)
    assert reloaded is not None
    return reloaded


def retry_job(who: Caller, job: Job) -> Job:
    """Queue a failed or cancelled job again (same id, same parameters), admitted again first."""
    _may_manage(who, job)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobConflict(f"Job {job.pk} is {job.status}; only failed or cancelled jobs can be retried.")
    if job.context and not contexts.exists(job.context):
        raise JobConflict("The uploaded build context of this job was removed; start a new build.")
    runs_as = who if job.user_id == getattr(who.user, "pk", None) else Caller(job.user)
    admit_job(runs_as, job.host, job.kind, job.params)
    now = timezone.now()
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
            status=JobStatus.QUEUED,
            progress={},
            result={},
            error="",
            cancel_requested=False,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            run_id=None,
            retry_at=None,
            updated_at=now,
            seq=F("seq") + 1,
        )
        if not updated:
            raise JobConflict(f"Job {job.pk} changed meanwhile; reload it.")
        transaction.on_commit(partial(_announce, job.pk))
    reloaded = load(job.pk)
    assert reloaded is not None
    return reloaded


# Slots (called by the worker)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(job_id: Any) -> tuple[Job, uuid.UUID] | None:
    """Mark the job running if it is queued and its host has a free slot; None means: nothing to do now."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None  # finished, running elsewhere, or gone: a re-delivered task does nothing
        Host.objects.select_for_update().filter(pk=job.host_id).first()  # serializes claims per host
        running = Job.objects.filter(host_id=job.host_id, status=JobStatus.RUNNING).count()
        if running >= conf.jobs_per_host():
            return None  # stays queued; a finishing job enqueues it again
        run_id = uuid.uuid4()
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING,
            run_id=run_id,
            started_at=now,
            heartbeat_at=now,
            updated_at=now,
            attempts=F("attempts") + 1,
            worker=worker_name(),
            retry_at=None,
            seq=F("seq") + 1,
        )
    claimed = load(job_id)
    assert claimed is not None
    broadcast(job_id)
    return claimed, run_id


def dispatch_waiting(host_id: int, *, waiting_longer_than: float = 0.0) -> int:
    """Enqueue the oldest queued jobs of the host, as many as it has free slots."""
    free = conf.jobs_per_host() - Job.objects.filter(host_id=host_id, status=JobStatus.RUNNING).count()
    if free <= 0:
        return 0
    now = timezone.now()
    waiting = Job.objects.filter(host_id=host_id, status=JobStatus.QUEUED).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    )
    if waiting_longer_than:
        waiting = waiting.filter(updated_at__lt=now - timedelta(seconds=waiting_longer_than))
    ids = list(waiting.order_by("created_at").values_list("pk", flat=True)[:free])
    for job_id in ids:
        _enqueue(job_id)
    return len(ids)


def wait_for_retry(job: Job, run_id: uuid.UUID, message: str, delay: float) -> bool:
    """Give the slot back: the host was unreachable before any work started; the task retries later."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, run_id=run_id, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED,
        run_id=None,
        retry_at=now + timedelta(seconds=delay),
        progress={"message": f"{message} Retrying in {delay:g} s."},
        updated_at=now,
        seq=F("seq") + 1,
    )
    if updated:
        broadcast(job.pk)
        dispatch_waiting(job.host_id)
    return bool(updated)


def finish(
    job: Job,
    run_id: uuid.UUID | None,
    status: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    progress: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome of a run (only if the run still owns the job), audit it, free the slot."""
    now = timezone.now()
    changes: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "error": error,
        "result": result or {},
        "seq": F("seq") + 1,
    }
    if progress is not None:
        changes["progress"] = progress
    current = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING)
    if run_id is not None:
        current = current.filter(run_id=run_id)
    if not current.update(**changes):
        return False  # the job was taken from this run (marked lost meanwhile): leave it alone
    if status == JobStatus.SUCCEEDED:
        contexts.remove(job.context)
    _record_outcome(job.pk, error)
    broadcast(job.pk)
    dispatch_waiting(job.host_id)
    return True


def _record_outcome(job_id: Any, detail: str) -> None:
    job = load(job_id)
    if job is None:
        return
    calls = calls_for(job.kind, job.params)
    duration = (
        (job.finished_at - job.started_at).total_seconds() * 1000
        if job.started_at and job.finished_at
        else None
    )
    audit.record(
        who=Caller(job.user),
        entry_point=EntryPoint.JOB,
        action=f"image.{job.kind}",
        outcome=Outcome.SUCCESS if job.status == JobStatus.SUCCEEDED else Outcome.FAILURE,
        host=job.host,
        method=calls[0].method,
        path=calls[0].path,
        object_id=str(job.pk),
        object_name=str(job.params.get("image") or ",".join(job.params.get("tags") or [])),
        body=job.params,
        detail=detail if job.status != JobStatus.SUCCEEDED else "",
        duration_ms=duration,
    )


# Stale jobs


def detect_stale_jobs(stale_after: float | None = None) -> dict[str, int]:
    """Running jobs whose worker went silent: a pull runs again (when attempts remain), others fail.

    Also enqueues jobs that have waited long for a free slot, and removes old build contexts.
    """
    window = conf.stale_after() if stale_after is None else stale_after
    cutoff = timezone.now() - timedelta(seconds=window)
    counts = {"failed": 0, "requeued": 0, "dispatched": 0, "contexts_removed": 0}
    stale = Job.objects.select_related("host", "user").filter(
        status=JobStatus.RUNNING, heartbeat_at__lt=cutoff
    )
    for job in stale:
        since = _iso(job.heartbeat_at)
        if job.kind == JobKind.PULL and not job.cancel_requested and job.attempts < conf.max_attempts():
            if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, run_id=job.run_id).update(
                status=JobStatus.QUEUED,
                run_id=None,
                progress={
                    "message": f"Worker {job.worker} lost (no heartbeat since {since}); running again."
                },
                updated_at=timezone.now(),
                seq=F("seq") + 1,
            ):
                counts["requeued"] += 1
                broadcast(job.pk)
                dispatch_waiting(job.host_id)
            continue
        status = JobStatus.CANCELLED if job.cancel_requested else JobStatus.FAILED
        message = f"Worker lost: {job.worker or 'the worker'} sent no heartbeat since {since}."
        if finish(job, job.run_id, status, error=message):
            counts["failed"] += 1
    waiting_hosts = Job.objects.filter(status=JobStatus.QUEUED).values_list("host_id", flat=True).distinct()
    for host_id in set(waiting_hosts):
        counts["dispatched"] += dispatch_waiting(host_id, waiting_longer_than=window)
    old = Job.objects.filter(status__in=FINISHED).exclude(context="").values_list("pk", "context")
    for job_id, name in old:
        if contexts.expired([name], conf.context_retention()):
            contexts.remove(name)
            Job.objects.filter(pk=job_id).update(context="")
            counts["contexts_removed"] += 1
    return counts
