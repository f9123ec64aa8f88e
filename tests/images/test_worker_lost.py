"""A worker killed mid-job: its job stops beating and is marked failed; nothing stays running forever."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from hosts.models import Host
from images.models import Job, JobKind, JobStatus
from images.services import contexts, jobs
from images.tasks import run_job
from tests.conftest import worker_database_url
from tests.images.conftest import IMAGE, wait_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_of_a_killed_worker_is_failed_and_its_build_stops(
    unix_host: Host, alice: User, engine1: docker.DockerClient, tmp_path: Path
) -> None:
    # A worker of our own, on a queue of its own, so the session's worker never takes this job.
    queue = f"lost-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": worker_database_url()}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dockerweb", "worker", "--pool", "threads",
             "--concurrency", "2", "-n", f"{queue}@%h", "-Q", queue, "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        context = contexts.store_dockerfile(f"FROM {IMAGE}\nRUN echo started && sleep 120\n", {}).name
        params = {"dockerfile": "Dockerfile", "nocache": True, "tags": [], "pull": False, "push": False}
        job = Job.objects.create(
            kind=JobKind.BUILD, host=unix_host, user=alice, params=params, context=context
        )
        run_job.apply_async(args=(str(job.pk),), queue=queue)
        deadline = time.monotonic() + 30
        while "started" not in Job.objects.get(pk=job.pk).progress.get("lines", []):
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        worker.kill()  # no goodbye: the job is left running with a heartbeat that stops
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    running = Job.objects.get(pk=job.pk)
    assert running.status == JobStatus.RUNNING and running.heartbeat_at is not None
    time.sleep(1.5)
    counts = jobs.detect_stale_jobs(stale_after=1.0)
    assert counts["failed"] == 1
    lost = wait_job(job.pk)
    assert lost.status == JobStatus.FAILED and lost.error.startswith("Worker lost:")
    # The engine saw the build's connection close and stopped the build; no container is left running.
    deadline = time.monotonic() + 20
    while any("sleep 120" in " ".join(c.attrs["Config"]["Cmd"] or []) for c in engine1.containers.list()):
        assert time.monotonic() < deadline, "the build kept running after its worker died"
        time.sleep(0.2)
