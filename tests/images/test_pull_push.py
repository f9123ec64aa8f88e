"""Pull and push jobs through the real worker, engines and registries: progress, websocket, cancel, the
engine's error messages, credentials."""

from __future__ import annotations

import logging
from collections.abc import Callable

import docker
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import AuditEntry, Host
from images.models import Job, JobStatus, Registry
from tests.images.conftest import People, started, wait_job
from tests.images.registries import auth_registry, slow_registry
from tests.images.wsclient import Client, token_for
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)


def _arch(engine: docker.DockerClient) -> str:
    machine = engine.info()["Architecture"]
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def test_a_pull_reports_layer_progress_live_and_cancel_stops_the_download(
    celery_worker: None,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    people: People,
    engine1: docker.DockerClient,
    tmp_path: object,
) -> None:
    with slow_registry(testbed.engine1, str(tmp_path), _arch(engine1)) as registry:
        image = f"{registry.address}/slow:1"
        job_id = started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image}))
        token = token_for(people.users["dave"])

        async def watch() -> list[dict[str, object]]:
            ws = Client(f"/ws/jobs/{job_id}/", token)
            await ws.open()
            first = await ws.next()
            assert first["type"] == "job" and first["job"]["id"] == job_id

            def downloading(message: dict[str, object]) -> bool:
                layers = message["job"]["progress"].get("layers", {})  # type: ignore[index]
                return any(layer["current"] > 256 * 1024 and layer["total"] for layer in layers.values())

            seen = await ws.until(downloading)
            # Cancel while the layer is still downloading; the socket reports the end.
            response = await sync_to_async(people["dave"].post)(f"/api/v1/jobs/{job_id}/cancel/")
            assert response.status_code == 202, response.json()
            seen += await ws.until(lambda m: m["job"]["status"] == "cancelled")
            await ws.leave()
            return seen

        messages = async_to_sync(watch)()
        seqs = [m["job"]["seq"] for m in messages]  # type: ignore[index]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "snapshots arrive in order, once each"
        layer = next(iter(messages[-2]["job"]["progress"]["layers"].values()))  # type: ignore[index]
        assert layer["status"] == "Downloading" and layer["total"] == 512 * 1024 * 1024
        # Closing the stream stopped the engine's download.
        assert registry.blob_closed.wait(10), "the engine kept downloading after the cancel"
    job = wait_job(job_id)
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert "Cancelled" in job.error
    with pytest.raises(docker.errors.ImageNotFound):
        engine1.images.get(image)
    entry = AuditEntry.objects.get(object_id=job_id, entry_point="job")
    assert entry.action == "image.pull" and entry.outcome == "failure" and entry.username == "dave"


def test_pulling_a_missing_repository_fails_with_the_engines_message(
    celery_worker: None, testbed: Testbed, unix_host: Host, people: People
) -> None:
    image = f"{testbed.registry}/no-such-repository:1"
    job_id = started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image}))
    job = wait_job(job_id)
    assert job.status == JobStatus.FAILED
    assert "manifest unknown" in job.error or "not found" in job.error, job.error
    shown = people["dave"].get(f"/api/v1/jobs/{job_id}/").json()
    assert shown["status"] == "failed" and shown["error"] == job.error
    assert AuditEntry.objects.get(object_id=job_id, entry_point="job").detail == job.error


def test_build_push_then_pull_back_on_the_other_engine(
    celery_worker: None,
    testbed: Testbed,
    unix_host: Host,
    tls_host: Host,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    testbed_registry: Registry,
    engine1: docker.DockerClient,
    unique: Callable[[str], str],
    cleanup_images: list[str],
) -> None:
    admin = client_for(alice)
    repository = unique("roundtrip")
    image = f"{testbed.registry}/{repository}:1"
    cleanup_images.append(image)
    dockerfile = f"FROM {testbed.images[0]}\nRUN echo {repository} > /marker\nCMD cat /marker\n"
    build_id = started(
        admin.post(
            f"/api/v1/hosts/{tls_host.pk}/images/build/",
            {"dockerfile_text": dockerfile, "tags": [image], "push": True},
            format="json",
        )
    )
    build = wait_job(build_id, timeout=60)
    assert build.status == JobStatus.SUCCEEDED, build.error
    assert build.progress["phase"] == "push" and build.progress["percent"] == 100.0
    # 3 Dockerfile steps and the 2 LABEL steps of the builder's owner labels (hosts.admission).
    assert build.progress["build"]["step"] == 5 and build.progress["build"]["steps"] == 5
    pushed = build.result["pushed"][0]
    assert pushed["reference"] == image and pushed["digest"].startswith("sha256:")

    listed = admin.get(f"/api/v1/registries/{testbed_registry.pk}/tags/?repository={repository}").json()
    assert listed["tags"] == ["1"] and listed["image"] == f"{testbed.registry}/{repository}"
    catalog = admin.get(f"/api/v1/registries/{testbed_registry.pk}/catalog/").json()
    assert repository in catalog["repositories"]

    pull_id = started(
        admin.post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image}, format="json")
    )
    pull = wait_job(pull_id, timeout=60)
    assert pull.status == JobStatus.SUCCEEDED, pull.error
    assert pull.result["image_id"] == build.result["image_id"]
    assert pull.result["digest"] == pushed["digest"]
    statuses = {layer["status"] for layer in pull.progress["layers"].values()}
    assert "Pull complete" in statuses and pull.progress["percent"] == 100.0
    output = engine1.containers.run(image, remove=True)
    assert output.strip().decode() == repository


def test_registry_credentials_are_used_but_never_shown(
    celery_worker: None,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    people: People,
    engine1: docker.DockerClient,
    tmp_path: object,
    cleanup_images: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = people["alice"]
    with auth_registry(testbed.engine1, str(tmp_path)) as private:
        created = admin.post(
            "/api/v1/registries/",
            {"name": "private", "url": private.url, "server": private.address, "username": private.username,
             "password": private.password, "teams": ["red"]},
            format="json",
        )  # fmt: skip
        assert created.status_code == 201, created.json()
        registry_id = created.json()["id"]
        assert created.json()["has_password"] is True and "password" not in created.json()
        assert admin.post(f"/api/v1/registries/{registry_id}/test/").json()["ok"] is True

        image = f"{private.address}/team/app:2"
        cleanup_images.append(image)
        push_id = started(
            people["dave"].post(
                f"/api/v1/hosts/{unix_host.pk}/images/push/", {"image": image, "source": testbed.images[0]}
            )
        )
        push = wait_job(push_id, timeout=60)
        assert push.status == JobStatus.SUCCEEDED, push.error
        assert push.registry is not None and push.registry.pk == registry_id
        engine1.images.remove(image)
        pull = wait_job(
            started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image})),
            timeout=60,
        )
        assert pull.status == JobStatus.SUCCEEDED, pull.error
        listed = people["dave"].get(f"/api/v1/registries/{registry_id}/tags/?repository=team/app").json()
        assert listed["tags"] == ["2"]
        # Running a missing image pulls it with the same credentials.
        engine1.images.remove(image)
        run = {"image": image, "pull": True, "name": "dave-private-run", "engine_body": {"Cmd": ["true"]}}
        ran = people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/containers/run/", run, format="json")
        assert ran.status_code == 201, ran.json()
        engine1.containers.get("dave-private-run").remove(force=True)
        engine1.images.remove(image)

        # Team blue may not use the registry: it is invisible to erin, and her pull goes anonymously.
        assert people["erin"].get(f"/api/v1/registries/{registry_id}/").status_code == 404
        refused = wait_job(
            started(people["erin"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image}))
        )
        assert refused.status == JobStatus.FAILED and "no basic auth credentials" in refused.error, (
            refused.error
        )
        erin_run = {**run, "name": "erin-private-run"}
        denied = people["erin"].post(f"/api/v1/hosts/{unix_host.pk}/containers/run/", erin_run, format="json")
        assert denied.status_code >= 400 and "no basic auth credentials" in denied.json()["detail"], (
            denied.json()
        )

        # Wrong credentials: the test says so, and a pull fails with the engine's message.
        changed = admin.patch(f"/api/v1/registries/{registry_id}/", {"password": "wrong"}, format="json")
        assert changed.status_code == 200 and "password" not in changed.json()
        checked = admin.post(f"/api/v1/registries/{registry_id}/test/").json()
        assert checked["ok"] is False and checked["status"] == 401
        wrong = wait_job(
            started(people["dave"].post(f"/api/v1/hosts/{unix_host.pk}/images/pull/", {"image": image}))
        )
        assert wrong.status == JobStatus.FAILED and "unauthorized" in wrong.error.lower(), wrong.error

    # The password is in no response, job, audit row or log record.
    secret = private.password
    for job in Job.objects.all():
        assert secret not in str(job.params) + str(job.progress) + str(job.result) + job.error
    for entry in AuditEntry.objects.all():
        assert secret not in str(entry.request_body) + entry.detail + entry.path
    assert secret not in caplog.text
    for user in ("alice", "dave"):
        for path in ("/api/v1/registries/", f"/api/v1/registries/{registry_id}/", "/api/v1/jobs/"):
            assert secret not in people[user].get(path).content.decode()
