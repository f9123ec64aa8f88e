"""Job lifecycle: commit, access, idempotent re-delivery, stale workers, retries, cancel while queued,
listing, and the job websockets."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import docker
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from hosts.access import caller
from hosts.models import Host
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from images.models import Job, JobKind, JobStatus
from images.services import jobs
from images.tasks import run_job
from tests.images.conftest import IMAGE, People, started, wait_job
from tests.images.wsclient import Client, token_for
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)


def _container(engine: docker.DockerClient, names: list[str], owner: str, team: str) -> str:
    name = f"commit-{uuid.uuid4().hex[:8]}"
    names.append(name)
    labels = {OWNER_USER_LABEL: owner, OWNER_TEAM_LABEL: team}
    container = engine.containers.run(IMAGE, ["sh", "-c", "echo changed > /state; sleep 300"], name=name,
                                      labels=labels, detach=True)  # fmt: skip
    container.exec_run(["true"])  # the file exists once the shell has run
    return name


def test_committing_a_changed_container_makes_an_image_that_runs(
    celery_worker: None,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    cleanup_containers: list[str],
    cleanup_images: list[str],
    unique: Callable[[str], str],
) -> None:
    name = _container(engine1, cleanup_containers, "dave", "red")
    image = f"{unique('committed')}:v1"
    cleanup_images.append(image)
    body = {
        "container": name,
        "image": image,
        "comment": "snapshot",
        "author": "dave",
        "changes": ["CMD cat /state"],
    }
    job = wait_job(
        started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/commit/", body, format="json"))
    )
    assert job.status == JobStatus.SUCCEEDED, job.error
    details = engine1.images.get(image)
    assert details.id == job.result["image_id"] and details.attrs["Comment"] == "snapshot"
    assert engine1.containers.run(image, remove=True).decode().strip() == "changed"


def test_another_team_cannot_commit_my_container_and_a_viewer_cannot_pull(
    testbed: Testbed,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    cleanup_containers: list[str],
) -> None:
    name = _container(engine1, cleanup_containers, "dave", "red")
    refused = people["erin"].post(
        f"/api/v1/hosts/{unix_host.pk}/images/commit/", {"container": name}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["rule"] == "container-not-owned"
    pull = people["carol"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": testbed.images[1]})
    assert pull.status_code == 403 and "images needs operator" in pull.json()["detail"]
    Host.objects.filter(pk=unix_host.pk).update(policy={"allowed_registries": ["registry.internal"]})
    other = people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": testbed.images[1]})
    assert other.status_code == 403, other.json()
    assert other.json()["rule"] == "registry" and other.json()["field"] == "fromImage"
    assert Job.objects.count() == 0


def _job(host: Host, user: User, kind: JobKind = JobKind.PULL, **fields: object) -> Job:
    """A job row as a worker would have left it (a port-1 registry: nothing could ever be pulled)."""
    params: dict[str, object] = {"image": "localhost:1/x:1"} if kind == JobKind.PULL else {"tags": []}
    return Job.objects.create(kind=kind, host=host, user=user, params=params, **fields)


def _running(host: Host, user: User, kind: JobKind = JobKind.PULL, **fields: object) -> Job:
    beat = fields.pop("heartbeat_at", timezone.now())
    return _job(host, user, kind, status=JobStatus.RUNNING, run_id=uuid.uuid4(), heartbeat_at=beat, **fields)


def _finished_job(host: Host, user: User, status: JobStatus = JobStatus.SUCCEEDED) -> Job:
    now = timezone.now()
    return _job(
        host, user, status=status, started_at=now, finished_at=now, attempts=1, result={"image_id": "s"}
    )


def test_a_redelivered_task_of_a_finished_or_running_job_does_nothing(unix_host: Host, alice: User) -> None:
    done = _finished_job(unix_host, alice)
    run_job.apply(args=(str(done.pk),))
    after = Job.objects.get(pk=done.pk)
    assert (after.status, after.seq, after.attempts, after.finished_at) == (
        JobStatus.SUCCEEDED, done.seq, 1, done.finished_at,
    )  # fmt: skip
    running = _running(unix_host, alice)
    run_job.apply(args=(str(running.pk),))
    assert Job.objects.get(pk=running.pk).attempts == 0, "the running job was not started twice"
    run_job.apply(args=(str(uuid.uuid4()),))  # a job deleted meanwhile: nothing happens


def test_a_job_whose_worker_went_silent_is_failed_or_run_again(unix_host: Host, alice: User) -> None:
    old = timezone.now() - timedelta(minutes=5)
    build = _running(
        unix_host, alice, JobKind.BUILD, started_at=old, heartbeat_at=old, worker="w1:42:7", attempts=1
    )
    pull = _running(unix_host, alice, started_at=old, heartbeat_at=old, attempts=1)
    # Two live jobs fill the host's slots, so nothing requeued here starts in the session's worker.
    fresh = [_running(unix_host, alice, JobKind.BUILD) for _ in range(2)]
    counts = jobs.detect_stale_jobs(stale_after=60)
    assert counts["failed"] == 1 and counts["requeued"] == 1
    build.refresh_from_db()
    assert build.status == JobStatus.FAILED and build.error.startswith(
        "Worker lost: w1:42:7 sent no heartbeat"
    )
    pull.refresh_from_db()
    assert (
        pull.status == JobStatus.QUEUED
        and pull.run_id is None
        and "running again" in pull.progress["message"]
    )
    assert {job.status for job in Job.objects.filter(pk__in=[j.pk for j in fresh])} == {JobStatus.RUNNING}
    # A pull that already used its attempts fails too.
    Job.objects.filter(pk=pull.pk).update(status=JobStatus.RUNNING, heartbeat_at=old, attempts=2)
    jobs.detect_stale_jobs(stale_after=60)
    assert Job.objects.get(pk=pull.pk).status == JobStatus.FAILED


def test_an_unreachable_host_is_retried_with_backoff_then_fails_with_the_reason(
    alice: User, tmp_path: object
) -> None:
    host = Host.objects.create(name="gone", url=f"unix://{tmp_path}/missing.sock")
    job = Job.objects.create(kind=JobKind.PULL, host=host, user=alice, params={"image": "localhost:1/x:1"})
    with override_settings(IMAGES_JOB_CONNECT_RETRIES=2, IMAGES_JOB_RETRY_BACKOFF=30):
        # Eager: the retries run at once here; the long backoff keeps the session's worker from taking
        # the job between them (it dispatches only jobs whose retry time has come).
        run_job.apply(args=(str(job.pk),))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error == "Host 'gone' unreachable: the socket does not exist (is the engine running?)"


def test_retry_runs_a_failed_job_again_and_cancel_stops_a_queued_one(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People
) -> None:
    missing = f"{testbed.registry}/missing-{uuid.uuid4().hex[:6]}:1"
    job_id = started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": missing}))
    first = wait_job(job_id)
    assert first.status == JobStatus.FAILED and first.attempts == 1
    assert people["erin"].post(f"/api/v1/jobs/{job_id}/retry/").status_code == 404, "not erin's job"
    retried = people["dave"].post(f"/api/v1/jobs/{job_id}/retry/")
    assert (
        retried.status_code == 202 and retried.json()["status"] == "queued" and retried.json()["error"] == ""
    )
    second = wait_job(job_id)
    assert second.status == JobStatus.FAILED and second.attempts == 2 and second.error == first.error
    assert people["dave"].post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 409

    # With both slots taken (by rows that look running), a new job waits queued and cancels at once.
    for _ in range(2):
        _running(unix_host, people.users["alice"])
    waiting = started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": missing}))
    assert wait_job(waiting, JobStatus.QUEUED).status == JobStatus.QUEUED
    cancelled = people["dave"].post(f"/api/v1/jobs/{waiting}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert Job.objects.get(pk=waiting).attempts == 0


def test_people_see_their_own_jobs_and_admins_see_all(unix_host: Host, people: People) -> None:
    mine = _finished_job(unix_host, people.users["dave"])
    theirs = _finished_job(unix_host, people.users["erin"], JobStatus.FAILED)
    listed = people["dave"].get("/api/v1/jobs/").json()
    assert [item["id"] for item in listed["results"]] == [str(mine.pk)]
    assert people["dave"].get(f"/api/v1/jobs/{theirs.pk}/").status_code == 404
    everyone = people["alice"].get("/api/v1/jobs/?status=failed").json()
    assert [item["id"] for item in everyone["results"]] == [str(theirs.pk)]
    assert people["alice"].get("/api/v1/jobs/?user=dave").json()["count"] == 1
    bad = people["alice"].get("/api/v1/jobs/?status=exploded")
    assert bad.status_code == 400 and "status" in bad.json()["fields"]
    created = people["dave"].post(
        "/api/v1/jobs/",
        {"kind": "pull", "host": unix_host.pk, "params": {"image": "Not an image"}},
        format="json",
    )
    assert created.status_code == 400 and "image" in created.json()["fields"]


def test_the_job_socket_sends_the_whole_state_late_and_refuses_others(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People
) -> None:
    job_id = started(
        people["dave"].post(
            f"/api/v1/hosts/{unix_host.pk}/images/build/",
            {"dockerfile_text": f"FROM {testbed.images[0]}\nRUN echo one\nRUN echo two\n", "nocache": True},
            format="json",
        )
    )
    tokens = {name: token_for(people.users[name]) for name in ("dave", "erin", "alice")}

    async def scenario() -> None:
        panel = Client("/ws/jobs/", tokens["dave"])
        await panel.open()
        listing = await panel.next()
        assert listing["type"] == "jobs" and [j["id"] for j in listing["jobs"]] == [job_id]
        updates = await panel.until(lambda m: m["job"]["status"] == "succeeded")
        assert all(m["type"] == "job" and m["job"]["id"] == job_id for m in updates)
        await panel.leave()
        # Connecting after the end still gives everything: status, steps, output, result.
        late = Client(f"/ws/jobs/{job_id}/", tokens["dave"])
        await late.open()
        state = (await late.next())["job"]
        # 3 Dockerfile steps and the 2 LABEL steps of the builder's owner labels (hosts.admission).
        assert state["status"] == "succeeded" and state["progress"]["steps"] == 5
        assert "two" in state["progress"]["lines"] and state["result"]["image_id"].startswith("sha256:")
        await late.leave()
        # Another team's user and anonymous callers are refused; an admin may watch.
        for token, code in ((tokens["erin"], 4404), (None, 4401)):
            refused = Client(f"/ws/jobs/{job_id}/", token)
            await refused.open()
            closed, messages = await refused.closed_with()
            assert closed == code and messages[0]["type"] == "error"
        watcher = Client(f"/ws/jobs/{job_id}/", tokens["alice"])
        await watcher.open()
        assert (await watcher.next())["job"]["id"] == job_id
        await watcher.leave()
        everything = Client("/ws/jobs/?all=1", tokens["alice"])
        await everything.open()
        assert job_id in [j["id"] for j in (await everything.next())["jobs"]]
        await everything.leave()
        assert await sync_to_async(Job.objects.count)() == 1

    async_to_sync(scenario)()


def test_a_job_on_a_host_admins_administer_is_visible_to_them(unix_host: Host, people: People) -> None:
    from hosts.models import Grant, Role

    Grant.objects.create(user=people.users["carol"], host=unix_host, role=Role.ADMIN)
    job = _finished_job(unix_host, people.users["dave"])
    assert people["carol"].get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert jobs.get_visible(caller(people.users["carol"]), job.pk) == job
