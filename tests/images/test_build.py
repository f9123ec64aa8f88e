"""Build jobs through the real worker and engine: each context kind, step counting, a failing step, cancel,
the per-host limit, the time limit, the policy, and bad input."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
import time
from collections.abc import Callable

import docker
import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from hosts.models import AuditEntry, Host
from images.models import Job, JobKind, JobStatus
from images.services import contexts, runner
from tests.images.conftest import IMAGE, People, post_bytes, started, wait_job
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)


def _tar(files: dict[str, str], *, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


def _file_in(engine: docker.DockerClient, image: str, path: str) -> bytes:
    """A file of the image, read from a created (never started) container."""
    container = engine.containers.create(image)
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            assert member is not None
            return member.read()
    finally:
        container.remove()


def _build_url(host: Host) -> str:
    return f"/api/v1/hosts/{host.pk}/images/build/"


def test_a_build_from_an_uploaded_gzip_tar_counts_steps_and_tags_the_image(
    celery_worker: None,
    testbed: Testbed,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    unique: Callable[[str], str],
    cleanup_images: list[str],
) -> None:
    tag = f"{unique('uploaded')}:1"
    cleanup_images.append(tag)
    context = _tar(
        {
            "build/Dockerfile": f"FROM {IMAGE}\nCOPY hello.txt /hello.txt\nRUN echo built-by-job\n",
            "hello.txt": "hello from the context\n",
        },
        compress=True,
    )
    upload = io.BytesIO(context)
    upload.name = "context.tar.gz"
    response = people["dave"].post(
        _build_url(unix_host),
        {"context": upload, "dockerfile": "build/Dockerfile", "tags": [tag], "labels": '{"team": "red"}'},
        format="multipart",
    )
    job = wait_job(started(response), timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    # The engine adds the labels as a last LABEL step.
    # The Dockerfile's 4 steps and the 2 LABEL steps of the builder's owner labels (hosts.admission).
    assert (job.progress["step"], job.progress["steps"]) == (6, 6)
    assert job.progress["instruction"] == "LABEL team=red"
    assert "built-by-job" in job.progress["lines"] and job.progress["percent"] == 100.0
    image = engine1.images.get(tag)
    assert image.id == job.result["image_id"] and image.labels["team"] == "red"
    assert not contexts.exists(job.context), "a succeeded build's upload is removed"
    assert job.params["context_kind"] == "upload" and "context" not in job.params


def test_a_build_from_a_raw_tar_body_and_one_from_a_dockerfile_with_files(
    celery_worker: None,
    testbed: Testbed,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    unique: Callable[[str], str],
    cleanup_images: list[str],
) -> None:
    raw_tag, text_tag = f"{unique('raw')}:1", f"{unique('text')}:1"
    cleanup_images.extend([raw_tag, text_tag])
    body = _tar({"Dockerfile": f"FROM {testbed.images[0]}\nRUN echo raw\n"})
    raw = post_bytes(people["dave"], f"{_build_url(unix_host)}?tags={raw_tag}&nocache=true", body)
    token_md5 = hashlib.md5(b"tok-secret-42\n").hexdigest()[:8]  # noqa: S324 - a fingerprint, not security
    upload = io.BytesIO(b"#!/bin/sh\necho from-a-file\n")
    upload.name = "run.sh"
    text = people["dave"].post(
        _build_url(unix_host),
        {
            "dockerfile_text": (
                f"FROM {IMAGE}\nARG NPM_TOKEN\n"
                f"RUN test $(echo $NPM_TOKEN | md5sum | cut -c1-8) = {token_md5}\n"
                "COPY run.sh conf/app.txt /opt/\nCMD sh /opt/run.sh\n"
            ),
            "buildargs": '{"NPM_TOKEN": "tok-secret-42", "MODE": "ci"}',
            "files": [upload],
            "file_texts": '{"conf/app.txt": "setting=1\\n"}',
            "tags": [text_tag],
        },
        format="multipart",
    )
    raw_job, text_job = wait_job(started(raw), timeout=60), wait_job(started(text), timeout=60)
    assert raw_job.status == JobStatus.SUCCEEDED, raw_job.error
    assert text_job.status == JobStatus.SUCCEEDED, text_job.error
    assert raw_job.params["nocache"] is True and raw_job.params["tags"] == [raw_tag]
    assert engine1.containers.run(text_tag, remove=True).decode().strip() == "from-a-file"
    assert _file_in(engine1, text_tag, "/opt/app.txt") == b"setting=1\n"
    # The secret build arg reached the build but is stored encrypted and shown redacted.
    assert text_job.params["buildargs"] == {"NPM_TOKEN": "[redacted]", "MODE": "ci"}
    shown = people["dave"].get(f"/api/v1/jobs/{text_job.pk}/").content.decode()
    assert "tok-secret-42" not in shown and "tok-secret-42" not in str(text_job.progress)
    assert not AuditEntry.objects.filter(request_body__icontains="tok-secret-42").exists()


def test_a_failing_step_fails_the_job_with_the_engines_message(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People, engine1: docker.DockerClient
) -> None:
    before = {c.id for c in engine1.containers.list(all=True)}
    response = people["dave"].post(
        _build_url(unix_host),
        {"dockerfile_text": f"FROM {testbed.images[0]}\nRUN echo about to fail && exit 3\nRUN echo never\n"},
        format="json",
    )
    job = wait_job(started(response), timeout=60)
    assert job.status == JobStatus.FAILED
    assert job.error == "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3"
    assert job.progress["step"] == 2 and "about to fail" in job.progress["lines"]
    assert {c.id for c in engine1.containers.list(all=True)} == before, "the failed step's container is gone"
    assert people["dave"].get(f"/api/v1/jobs/{job.pk}/").json()["error"] == job.error


def test_cancelling_a_long_build_stops_it_and_removes_its_container(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People, engine1: docker.DockerClient
) -> None:
    response = people["dave"].post(
        _build_url(unix_host),
        {"dockerfile_text": f"FROM {testbed.images[0]}\nRUN echo sleeping && sleep 120\n", "nocache": True},
        format="json",
    )
    job_id = started(response)

    def container_running() -> bool:
        job = Job.objects.get(pk=job_id)
        return job.status == JobStatus.RUNNING and "sleeping" in job.progress.get("lines", [])

    wait_job(job_id, JobStatus.RUNNING)
    deadline = time.monotonic() + 30
    while not container_running():
        assert time.monotonic() < deadline, Job.objects.get(pk=job_id).progress
        time.sleep(0.1)
    container = Job.objects.get(pk=job_id).progress["lines"][-2].removeprefix(" ---> Running in ")
    assert engine1.containers.get(container).status == "running"
    cancelled = people["dave"].post(f"/api/v1/jobs/{job_id}/cancel/")
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
    job = wait_job(job_id, timeout=15)
    assert job.status == JobStatus.CANCELLED
    deadline = time.monotonic() + 15
    while container in {c.id[: len(container)] for c in engine1.containers.list(all=True)}:
        assert time.monotonic() < deadline, "the build's container is still there"
        time.sleep(0.2)
    again = people["dave"].post(f"/api/v1/jobs/{job_id}/cancel/")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_at_most_two_jobs_run_per_host_and_the_third_waits(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People
) -> None:
    dockerfile = f"FROM {testbed.images[0]}\nRUN sleep 1.5\n"
    ids = [
        started(
            people["dave"].post(
                _build_url(unix_host), {"dockerfile_text": dockerfile, "nocache": True}, format="json"
            )
        )
        for _ in range(3)
    ]
    most = 0
    deadline = time.monotonic() + 60
    while Job.objects.filter(pk__in=ids, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
        assert time.monotonic() < deadline
        most = max(most, Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count())
        time.sleep(0.05)
    finished = sorted(Job.objects.filter(pk__in=ids), key=lambda job: job.started_at or job.created_at)
    assert [job.status for job in finished] == [JobStatus.SUCCEEDED] * 3, [job.error for job in finished]
    assert most == 2
    first_done = min(job.finished_at for job in finished[:2] if job.finished_at)
    assert finished[2].started_at is not None and finished[2].started_at >= first_done


def test_a_build_over_the_time_limit_is_stopped_and_failed(
    testbed: Testbed, unix_host: Host, alice: User, engine1: docker.DockerClient
) -> None:
    params = {"dockerfile": "Dockerfile", "nocache": True, "tags": [], "pull": False, "push": False}
    # Recorded directly, not through create_job: the session's worker must not take this one.
    context = contexts.store_dockerfile(f"FROM {IMAGE}\nRUN sleep 60\n", {}).name
    job = Job.objects.create(kind=JobKind.BUILD, host=unix_host, user=alice, params=params, context=context)
    # Run in this process (the worker's limit is the default hour); the runner enforces the limit itself.
    with override_settings(IMAGES_JOB_TIME_LIMIT=2.5):
        thread = threading.Thread(target=runner.execute, args=(job.pk,))
        started_at = time.monotonic()
        thread.start()
        thread.join(30)
    assert not thread.is_alive()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "Stopped after the job time limit of 2.5 s."
    assert time.monotonic() - started_at < 10
    assert contexts.exists(job.context), "a failed build keeps its context for a retry"


def test_the_policy_and_roles_refuse_builds_before_anything_is_stored(
    testbed: Testbed, unix_host: Host, people: People
) -> None:
    uploads = set(contexts.conf.upload_dir().iterdir())
    dockerfile = f"FROM {testbed.images[0]}\n"
    host_network = people["dave"].post(
        _build_url(unix_host), {"dockerfile_text": dockerfile, "networkmode": "host"}, format="json"
    )
    assert host_network.status_code == 403
    assert host_network.json()["code"] == "policy_denied" and host_network.json()["field"] == "networkmode"
    viewer = people["carol"].post(_build_url(unix_host), {"dockerfile_text": dockerfile}, format="json")
    assert viewer.status_code == 403 and "images needs operator" in viewer.json()["detail"]
    git = people["dave"].post(
        _build_url(unix_host), {"git_url": "https://git.example.com/app.git"}, format="json"
    )
    assert git.status_code == 403 and git.json()["rule"] == "no-remote-fetch"
    assert Job.objects.count() == 0
    assert set(contexts.conf.upload_dir().iterdir()) == uploads, "no upload was written"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "context"),
        ({"dockerfile_text": "FROM x", "git_url": "https://h/r.git"}, "context"),
        ({"dockerfile_text": "FROM x", "tags": ["Not/Valid"]}, "tags"),
        ({"dockerfile_text": "FROM x", "file_texts": '{"../escape": "x"}'}, "files"),
        ({"dockerfile_text": "FROM x", "buildargs": "not json"}, "buildargs"),
        ({"dockerfile_text": "FROM x", "push": True}, "push"),
    ],
)
def test_bad_build_input_is_a_400_naming_the_field(
    unix_host: Host, people: People, body: dict[str, object], field: str
) -> None:
    response = people["dave"].post(_build_url(unix_host), body, format="multipart")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"] or response.json()["detail"].startswith(field)
    assert Job.objects.count() == 0


def test_an_upload_over_the_limit_is_refused_with_413(
    unix_host: Host, people: People, settings: object
) -> None:
    settings.IMAGES_MAX_UPLOAD_BYTES = 10 * 1024  # type: ignore[attr-defined]
    uploads = set(contexts.conf.upload_dir().iterdir())
    big = _tar({"Dockerfile": "FROM x\n", "blob": "x" * 20 * 1024})
    response = post_bytes(people["dave"], _build_url(unix_host), big)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("context: The upload is larger")
    not_tar = post_bytes(people["dave"], _build_url(unix_host), b"x" * 600)
    assert not_tar.status_code == 400 and "not a tar archive" in not_tar.json()["fields"]["context"][0]
    assert Job.objects.count() == 0 and set(contexts.conf.upload_dir().iterdir()) == uploads
