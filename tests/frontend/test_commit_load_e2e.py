"""Commit, load and git-URL builds in a real browser (Chromium via Playwright) against a live ASGI server,
the real engine and a Celery worker: commit a running container with changes and run the result; load a
`docker save` archive (and see a broken one refused with the engine's message); build from a git repository
served over dumb HTTP on loopback, which the engine clones from inside its own network namespace."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from django.contrib.auth.models import User

from hosts.models import Grant, Host, Role
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL
from tests.frontend.conftest import log_in, screenshot
from tests.frontend.playwright_expect import expect
from tests.images.registries import exposed_to
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT = 90_000  # ms: a job on the 2-core test machine, worker start-up included


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _containing(text: str) -> re.Pattern[str]:
    """A pattern for accessible names containing `text` (Playwright's selector wants '/' escaped)."""
    return re.compile(re.escape(text).replace("/", r"\/"))


@pytest.fixture
def engine1_client(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine1.unix_url, version="1.41", timeout=120)
    yield client
    client.close()


@pytest.fixture
def made(engine1_client: docker.DockerClient) -> Iterator[dict[str, list[str]]]:
    """Containers and image references removed from engine1 when the test ends (even when it fails)."""
    things: dict[str, list[str]] = {"containers": [], "images": []}
    yield things
    for ref in things["containers"]:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            engine1_client.containers.get(ref).remove(force=True)
    for ref in things["images"]:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            engine1_client.images.remove(ref, force=True)


def _jobs_panel(page: Any) -> Any:
    return page.get_by_role("complementary", name="Jobs")


def _job(page: Any, title: str) -> Any:
    return _jobs_panel(page).get_by_role("listitem", name=title, exact=True)


def _wait_for_log(container: Any, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in container.logs().decode():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the logs of {container.name}: {container.logs()!r}")
        time.sleep(0.1)


def test_commit_a_running_container_with_changes_then_run_the_image(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    celery_worker: None,
    engine1_client: docker.DockerClient,
    made: dict[str, list[str]],
) -> None:
    name = _unique("e2e-commit-src")
    marker = f"marker-{uuid.uuid4().hex}"
    repository = _unique("e2e-committed")
    ref = f"{repository}:1"
    made["containers"].append(name)
    made["images"].append(ref)
    container = engine1_client.containers.run(
        testbed.images[0],
        ["sh", "-c", f"echo {marker} > /marker && echo ready && exec sleep 600"],
        name=name,
        detach=True,
    )
    _wait_for_log(container, "ready")

    log_in(page, "alice", "alice-password-1")
    page.goto(f"/hosts/{unix_host.pk}/containers/{name}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    actions = page.get_by_role("toolbar", name="Container actions")
    commit_button = actions.get_by_role("button", name="Commit…")
    expect(commit_button).to_have_attribute("aria-expanded", "false")
    commit_button.click()
    expect(commit_button).to_have_attribute("aria-expanded", "true")
    form = page.get_by_role("form", name=f"Commit {name}")
    expect(form.get_by_label("Pause the container while committing")).to_be_checked()

    # The server's validation lands on the fields it names: an instruction commit cannot apply, a bad name.
    form.get_by_label("Repository").fill("Not A Valid Name")
    form.get_by_label("Tag", exact=True).fill("1")
    form.get_by_label("Changes").fill('CMD ["cat", "/marker"]\nRUN rm -rf /')
    form.get_by_role("button", name="Commit", exact=True).click()
    changes = form.get_by_label("Changes")
    expect(changes).to_have_attribute("aria-invalid", "true")
    expect(changes).to_have_accessible_description(re.compile(r"'RUN rm -rf /': use one of CMD"))
    screenshot(page, "commit-01-validation")
    form.get_by_label("Changes").fill('CMD ["cat", "/marker"]\n\nENV E2E_COMMITTED=yes\n')
    form.get_by_role("button", name="Commit", exact=True).click()
    repository_field = form.get_by_label("Repository")
    expect(repository_field).to_have_attribute("aria-invalid", "true")
    expect(repository_field).to_have_accessible_description(re.compile("not a valid repository name"))
    expect(changes).not_to_have_attribute("aria-invalid", "true")
    assert not engine1_client.images.list(name=repository)

    repository_field.fill(repository)
    form.get_by_label("Message").fill("snapshot from the e2e test")
    form.get_by_label("Author").fill("Alice <alice@example.com>")
    form.get_by_role("button", name="Commit", exact=True).click()
    status = form.get_by_role("status")
    expect(status).to_contain_text(re.compile(f"(Started|Committed: ) ?commit {re.escape(name)} → {ref}"))

    # The job in the panel succeeds with the new image's id; the form says so too.
    title = f"commit {name} → {ref} on {unix_host.name}"
    job = _job(page, title)
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
    expect(status).to_contain_text("Committed: ")
    image = engine1_client.images.get(ref)
    short = image.id.removeprefix("sha256:")[:12]
    expect(job).to_contain_text(f"image {short}")
    expect(status).to_contain_text(f"image {short}")
    expect(job.get_by_role("progressbar", name=f"Progress of {title}")).to_have_js_property("value", 100)
    screenshot(page, "commit-02-done")

    # The engine's image carries the message, author and changes; the container kept running (it was only
    # paused for the commit).
    assert image.attrs["Comment"] == "snapshot from the e2e test"
    assert image.attrs["Author"] == "Alice <alice@example.com>"
    assert image.attrs["Config"]["Cmd"] == ["cat", "/marker"]
    assert "E2E_COMMITTED=yes" in image.attrs["Config"]["Env"]
    container.reload()
    assert container.status == "running"

    # Run it: the file the container wrote is in the image, and the new CMD prints it.
    output = engine1_client.containers.run(ref, remove=True)
    assert output.decode().strip() == marker

    # The images page lists it.
    form.get_by_role("link", name="Show the images of this host").click()
    expect(page.get_by_role("row", name=_containing(ref))).to_be_visible()


def test_viewers_see_no_commit_action_and_why(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    engine1_client: docker.DockerClient,
    made: dict[str, list[str]],
) -> None:
    name = _unique("e2e-commit-viewer")
    made["containers"].append(name)
    vera = User.objects.create_user("vera", password="vera-password-1")
    # Vera's own container (owner labels as dockerweb sets them): she may look at it, not act on it.
    labels = {OWNER_USER_LABEL: "vera", OWNER_TEAM_LABEL: ""}
    engine1_client.containers.create(testbed.images[0], ["true"], name=name, labels=labels)
    Grant.objects.create(user=vera, host=unix_host, role=Role.VIEWER)

    log_in(page, "vera", "vera-password-1")
    page.goto(f"/hosts/{unix_host.pk}/containers/{name}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="commit to an image")).to_contain_text(
        "You have the viewer role on this host"
    )
    expect(page.get_by_role("button", name="Commit…")).to_have_count(0)
    expect(page.get_by_role("form", name=f"Commit {name}")).to_have_count(0)
    page.goto(f"/images?host={unix_host.pk}")
    expect(page.get_by_role("status").filter(has_text="loading")).to_contain_text("viewer")
    expect(page.get_by_role("button", name="Load images…")).to_have_count(0)


def _throttle_uploads(page: Any, bytes_per_second: int) -> None:
    """Slow the browser's uploads (Chromium network emulation) so that the progress can be seen."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def test_load_a_saved_image_archive_and_see_a_broken_one_refused(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    engine1_client: docker.DockerClient,
    made: dict[str, list[str]],
    tmp_path: Path,
) -> None:
    # A `docker save` of the test image under a name of its own, gzip-compressed; then the name is removed
    # so that only the load can bring it back.
    ref = f"{_unique('e2e-loaded')}:1"
    made["images"].append(ref)
    source = engine1_client.images.get(testbed.images[0])
    assert source.tag(ref)
    archive = tmp_path / "saved.tar.gz"
    with gzip.open(archive, "wb", compresslevel=1) as out:
        for chunk in engine1_client.images.get(ref).save(named=ref):
            out.write(chunk)
    engine1_client.images.remove(ref)
    with pytest.raises(docker.errors.ImageNotFound):
        engine1_client.images.get(ref)
    not_a_tar = tmp_path / "notes.tar"
    not_a_tar.write_text("these are notes, not an image archive\n" * 50)

    log_in(page, "alice", "alice-password-1")
    page.goto(f"/images?host={unix_host.pk}")
    expect(page.get_by_role("row", name=_containing(ref))).to_have_count(0)
    load_button = page.get_by_role("button", name="Load images…")
    load_button.click()
    form = page.get_by_role("form", name="Load images")
    field = form.get_by_label("Image archive")

    # Not a tar: the engine's complaint is shown on the field, nothing is loaded.
    field.set_input_files(str(not_a_tar))
    form.get_by_role("button", name="Load", exact=True).click()
    expect(field).to_have_attribute("aria-invalid", "true")
    description = field.evaluate(
        "el => document.getElementById(el.getAttribute('aria-describedby').split(' ')[0]).textContent"
    )
    assert "invalid tar header" in description, description  # dockerd 20.10's words
    expect(form.get_by_role("status", name="Loaded images")).to_have_count(0)
    screenshot(page, "load-01-not-a-tar")

    # The real archive, uploaded slowly enough that the progress shows.
    size = archive.stat().st_size
    _throttle_uploads(page, max(size // 4, 64 * 1024))
    field.set_input_files(str(archive))
    expect(field).not_to_have_attribute("aria-invalid", "true")
    form.get_by_role("button", name="Load", exact=True).click()
    progress = form.get_by_role("progressbar", name="Upload progress")
    expect(form.get_by_text(re.compile(r"Uploading [1-9][0-9]?%…"))).to_be_visible()
    value = progress.evaluate("el => el.value")
    assert 0 < value < 100, value
    screenshot(page, "load-02-uploading")
    loaded = form.get_by_role("status", name="Loaded images")
    expect(loaded).to_contain_text("The engine loaded 1 image", timeout=60_000)
    expect(loaded.get_by_role("listitem")).to_have_text([ref])
    expect(progress).to_have_count(0)
    screenshot(page, "load-03-loaded")

    # The list shows it without a reload; the engine has it as the very same image.
    expect(page.get_by_role("row", name=_containing(ref))).to_be_visible()
    assert engine1_client.images.get(ref).id == source.id


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _static_http(directory: Path) -> Iterator[int]:
    """A static file server on 127.0.0.1 (a free port) for `directory`, in a thread of this process."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@example.com",
            "-c",
            "init.defaultBranch=master",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)},
    )


def _bare_repository(root: Path, registry: str, greeting: str) -> Path:
    """A bare git repository (dumb-HTTP ready) with a Dockerfile in a subfolder under another name."""
    work = root / "work"
    (work / "docker").mkdir(parents=True)
    (work / "greeting.txt").write_text(f"{greeting}\n")
    (work / "docker" / "Dockerfile.git").write_text(
        f"FROM {registry}/busybox:1\nCOPY greeting.txt /\nRUN cat /greeting.txt\n"
        'CMD ["cat", "/greeting.txt"]\n'
    )
    _git("init", "-q", "-b", "master", ".", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "a Dockerfile", cwd=work)
    served = root / "served"
    served.mkdir()
    _git("clone", "-q", "--bare", str(work), str(served / "app.git"), cwd=root)
    _git("--git-dir", str(served / "app.git"), "update-server-info", cwd=root)
    return served


def test_build_from_a_git_url_the_engine_clones(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    celery_worker: None,
    engine1_client: docker.DockerClient,
    made: dict[str, list[str]],
    tmp_path: Path,
) -> None:
    greeting = f"hello-from-git-{uuid.uuid4().hex[:8]}"
    tag = f"{_unique('e2e-git')}:1"
    made["images"].append(tag)
    served = _bare_repository(tmp_path, testbed.registry, greeting)
    with _static_http(served) as port, exposed_to(testbed.engine1, port, str(tmp_path)):
        url = f"http://127.0.0.1:{port}/app.git"
        log_in(page, "alice", "alice-password-1")
        page.goto(f"/images?host={unix_host.pk}")
        build = page.get_by_role("form", name="Build an image")
        build.get_by_label("Git repository URL").check()
        url_field = build.get_by_label("Repository URL", exact=True)

        # Not a git URL: refused by the server on the field.
        url_field.fill("ftp://127.0.0.1/app.git")
        build.get_by_role("button", name="Build", exact=True).click()
        expect(url_field).to_have_attribute("aria-invalid", "true")
        expect(url_field).to_have_accessible_description(re.compile("Give a git URL"))

        # A repository that does not exist: the job fails with the engine's message.
        missing = f"http://127.0.0.1:{port}/missing.git"
        url_field.fill(missing)
        build.get_by_role("button", name="Build", exact=True).click()
        expect(build.get_by_role("status")).to_contain_text(f"Started build from {missing}")
        failed = _job(page, f"build from {missing} on {unix_host.name}")
        expect(failed.locator(".badge")).to_have_text("failed", timeout=JOB_TIMEOUT)
        expect(failed.locator(".field-error")).to_contain_text(
            re.compile(rf"error fetching: .*{re.escape(missing)}/?' not found")
        )
        screenshot(page, "git-build-01-failed")

        # The real one, with the Dockerfile at another path.
        url_field.fill(url)
        build.get_by_label("Dockerfile path in the repository").fill("docker/Dockerfile.git")
        build.get_by_label("Tags", exact=True).fill(tag)
        build.get_by_role("button", name="Build", exact=True).click()
        expect(build.get_by_role("status")).to_contain_text(f"Started build {tag}")
        title = f"build {tag} on {unix_host.name}"
        job = _job(page, title)
        expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
        expect(job.get_by_role("log", name=f"Output of {title}")).to_contain_text(greeting)
        screenshot(page, "git-build-02-done")

    expect(page.get_by_role("row", name=tag, exact=True)).to_be_visible()
    output = engine1_client.containers.run(tag, remove=True)
    assert output.decode().strip() == greeting
