"""Celery tasks for image jobs: thin wrappers that take a job id and call images.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from images import conf
from images.services import jobs, runner

# Enforced by prefork workers only; the threads pool relies on the runner's own deadline.
_HARD_LIMIT = int(conf.job_time_limit()) + 120


@shared_task(
    bind=True,
    name="images.run_job",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # bounded by IMAGES_JOB_CONNECT_RETRIES, counted below
    time_limit=_HARD_LIMIT,
    soft_time_limit=_HARD_LIMIT - 60,
)
def run_job(self: Any, job_id: str) -> None:
    """Run one job; idempotent: a re-delivered task of a running or finished job does nothing."""
    retries = int(self.request.retries or 0)
    left = max(conf.connect_retries() - retries, 0)
    delay = conf.retry_backoff() * 2**retries
    try:
        runner.execute(job_id, retries_left=left, retry_delay=delay)
    except runner.RetryLater as later:
        raise self.retry(countdown=later.delay) from None


@shared_task(name="images.detect_stale_jobs", ignore_result=True)
def detect_stale_jobs() -> dict[str, int]:
    """Fail (or re-run) jobs whose worker was lost; enqueue jobs that waited long for a slot."""
    return jobs.detect_stale_jobs()
