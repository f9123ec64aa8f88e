"""Images and registries in a real browser (Chromium via Playwright) against a live ASGI server, the real
engines, registries and a Celery worker: pull with per-layer progress, build with live output, push, tag,
history, remove; the registries page (add, validation, test connection, browse, search, remove); and what
viewers and operators may not do."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest
from django.contrib.auth.models import User

from hosts.models import Grant, Host, Role
from images.models import Registry
from tests.frontend.conftest import log_in, screenshot
from tests.frontend.playwright_expect import expect
from tests.images.registries import auth_registry
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT = 90_000  # ms: a job on the 2-core test machine, worker start-up included


MANAGE_REASON = "Only administrators may add, edit or remove registries"


def _testbed_registry(testbed: Testbed, alice: User) -> Registry:
    """The testbed's registry (no auth), open to everyone."""
    return Registry.objects.create(
        name="testbed", url=testbed.registry_url, server=testbed.registry, created_by=alice
    )


def _containing(text: str) -> re.Pattern[str]:
    """A pattern for accessible names containing `text` (Playwright's selector wants '/' escaped)."""
    return re.compile(re.escape(text).replace("/", r"\/"))


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def engine1_client(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine1.unix_url, version="1.41", timeout=120)
    yield client
    client.close()


@pytest.fixture
def engine2_client(testbed: Testbed) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=testbed.engine2.unix_url, version="1.41", timeout=120)
    yield client
    client.close()


@pytest.fixture
def removed_after(engine1_client: docker.DockerClient) -> Iterator[list[str]]:
    """Image references removed from engine1 when the test ends."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            engine1_client.images.remove(ref, force=True)


def _jobs_panel(page: Any) -> Any:
    return page.get_by_role("complementary", name="Jobs")


def _job(page: Any, title: str) -> Any:
    return _jobs_panel(page).get_by_role("listitem", name=title, exact=True)


def _collapse_jobs(page: Any) -> None:
    """The panel floats over the bottom right of the page (where row actions are): fold it away."""
    toggle = _jobs_panel(page).get_by_role("button", name=re.compile(r"^Jobs "))
    if toggle.get_attribute("aria-expanded") == "true":
        toggle.click()


def _layer_bars(job: Any) -> list[tuple[float, float]]:
    values: list[list[float]] = job.locator(".layers progress").evaluate_all(
        "bars => bars.map(b => [b.value, b.max])"
    )
    return [(value, maximum) for value, maximum in values]


def test_pull_from_the_registry_picker_shows_layer_progress_until_done(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    celery_worker: None,
    engine2_client: docker.DockerClient,
    removed_after: list[str],
) -> None:
    # An image engine1 has never seen: built and pushed by engine2, with a layer of its own to download.
    repository = _unique("e2e-pull")
    ref = f"{testbed.registry}/{repository}:1"
    removed_after.append(ref)
    dockerfile = f"FROM {testbed.registry}/busybox:1\nRUN head -c 3000000 /dev/urandom > /blob\n"
    image, _ = engine2_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True)
    try:
        for line in engine2_client.api.push(
            f"{testbed.registry}/{repository}", tag="1", stream=True, decode=True
        ):
            assert "error" not in line, line
    finally:
        engine2_client.images.remove(image.id, force=True)
    Registry.objects.create(
        name="testbed", url=testbed.registry_url, server=testbed.registry, created_by=alice
    )

    log_in(page, "alice", "alice-password-1")
    page.goto(f"/images?host={unix_host.pk}")
    expect(page.get_by_role("heading", name="Images", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=_containing(repository))).to_have_count(0)

    # The picker: registry → repository (from its catalog) → tag (from its tags) → the image name.
    pull = page.get_by_role("form", name="Pull an image")
    pull.get_by_label("Registry", exact=True).select_option(label=f"testbed ({testbed.registry})")
    pull.get_by_label("Repository").fill(repository)
    tag = pull.get_by_label("Tag", exact=True)
    tag.select_option("1")  # waits until the registry's tags arrived
    expect(tag.locator("option")).to_have_text(["choose a tag (default: latest)", "1"])
    expect(pull.get_by_label("Image to pull")).to_have_value(ref)
    screenshot(page, "images-01-pull-picker")
    pull.get_by_role("button", name="Pull", exact=True).click()
    expect(pull.get_by_role("status")).to_contain_text(f"Started pull {ref}")

    # The job in the panel: its bar reaches 100 %, every layer's bar is full, the new layer was pulled.
    title = f"pull {ref} on {unix_host.name}"
    job = _job(page, title)
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
    expect(job.get_by_role("progressbar", name=f"Progress of {title}")).to_have_js_property("value", 100)
    expect(job).to_contain_text("100%")
    layers = job.get_by_role("list", name=f"Layers of {title}")
    expect(layers).to_contain_text("Pull complete")
    bars = _layer_bars(job)
    assert bars and all(value == maximum for value, maximum in bars), bars
    expect(job).to_contain_text("layers done")
    screenshot(page, "images-02-pull-done")

    # The list shows the pulled image without a reload, and the engine has it.
    expect(page.get_by_role("row", name=_containing(ref))).to_be_visible()

    # The panel survives a reload: folded to its title now that all is done, the finished job comes back
    # from the server, its layers on demand.
    page.reload()
    toggle = _jobs_panel(page).get_by_role("button", name="Jobs (all done)")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    job = _job(page, title)
    expect(job.locator(".badge")).to_have_text("succeeded")
    job.get_by_role("button", name="Show layers").click()
    expect(job.get_by_role("list", name=f"Layers of {title}")).to_contain_text("Pull complete")
    screenshot(page, "images-03-jobs-after-reload")


def test_build_from_a_pasted_dockerfile_streams_its_output_then_tag_history_and_remove(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, celery_worker: None, removed_after: list[str]
) -> None:
    tag = f"{_unique('e2e-build')}:1"
    second = tag.replace(":1", ":2")
    removed_after.extend([tag, second])
    dockerfile = (
        f"FROM {testbed.registry}/busybox:1\n"
        'RUN for i in 1 2 3 4 5 6; do echo "e2e-line-$i"; sleep 1; done\n'
        'CMD ["sh"]\n'
    )
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/images?host={unix_host.pk}")
    build = page.get_by_role("form", name="Build an image")
    build.get_by_label("Dockerfile", exact=True).fill(dockerfile)
    build.get_by_label("Tags", exact=True).fill(tag)
    build.get_by_role("button", name="Build", exact=True).click()
    expect(build.get_by_role("status")).to_contain_text(f"Started build {tag}")

    # The output arrives while the build runs: the RUN step's lines one by one, before the job ends.
    title = f"build {tag} on {unix_host.name}"
    job = _job(page, title)
    output = job.get_by_role("log", name=f"Output of {title}")
    expect(output).to_contain_text("e2e-line-2", timeout=JOB_TIMEOUT)
    status, text = job.evaluate(
        "el => [el.querySelector('.badge').textContent, el.querySelector('[role=log]').textContent]"
    )
    assert status == "running", (status, text)
    # 3 Dockerfile steps, then the 2 LABEL steps of the builder's owner labels (hosts.admission).
    assert "Step 2/5" in text and "Successfully built" not in text, text
    expect(job).to_contain_text("Step 2/5")
    screenshot(page, "images-04-build-running")
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
    expect(output).to_contain_text("e2e-line-6")
    expect(output).to_contain_text(f"Successfully tagged {tag}")
    expect(job.get_by_role("progressbar", name=f"Progress of {title}")).to_have_js_property("value", 100)
    screenshot(page, "images-05-build-done")
    _collapse_jobs(page)

    # The built image is listed; its history shows the RUN step.
    row = page.get_by_role("row", name=tag, exact=True)
    expect(row).to_be_visible()
    row.get_by_role("button", name="History").click()
    history = page.get_by_role("region", name=f"History of {tag}")
    expect(history).to_contain_text("e2e-line-$i")
    screenshot(page, "images-06-history")
    history.get_by_role("button", name="Close").click()

    # Tag it a second time.
    row.get_by_role("button", name="Tag").click()
    tag_form = page.get_by_role("form", name=f"Tag {tag}")
    tag_form.get_by_label("New tag").fill("Not A Valid Name")
    tag_form.get_by_role("button", name="Add tag").click()
    expect(tag_form.get_by_label("New tag")).to_have_attribute("aria-invalid", "true")
    expect(tag_form.get_by_label("New tag")).to_have_accessible_description(re.compile("not a valid"))
    tag_form.get_by_label("New tag").fill(second)
    tag_form.get_by_role("button", name="Add tag").click()
    row = page.get_by_role("row", name=_containing(second))
    expect(row).to_contain_text(tag)

    # Removing an image with two tags is refused until forced.
    row.get_by_role("button", name="Remove").click()
    row.get_by_role("button", name="Yes, remove").click()
    expect(page.get_by_role("alert").filter(has_text="must be forced")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Force remove")).click()
    page.get_by_role("button", name="Yes, force remove").click()
    expect(page.get_by_role("status").filter(has_text="Removed")).to_be_visible()
    expect(page.get_by_role("row", name=_containing(tag.split(":")[0]))).to_have_count(0)


def test_builds_from_an_uploaded_context_and_from_a_dockerfile_with_files(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    celery_worker: None,
    tmp_path: Any,
    removed_after: list[str],
) -> None:
    from_files, from_tar = f"{_unique('e2e-files')}:1", f"{_unique('e2e-tar')}:1"
    removed_after.extend([from_files, from_tar])
    greeting = tmp_path / "greeting.txt"
    greeting.write_text("hello from a file\n")
    context = tmp_path / "context.tar.gz"
    with tarfile.open(context, "w:gz") as tar:
        dockerfile = f"FROM {testbed.registry}/busybox:1\nCOPY app/ /app/\nRUN cat /app/run.sh\n".encode()
        files = {"build/Dockerfile.e2e": dockerfile, "app/run.sh": b"echo uploaded-context-ok\n"}
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    log_in(page, "alice", "alice-password-1")
    page.goto(f"/images?host={unix_host.pk}")
    build = page.get_by_role("form", name="Build an image")

    # A pasted Dockerfile with a file beside it (a multipart upload).
    build.get_by_label("Dockerfile", exact=True).fill(
        f"FROM {testbed.registry}/busybox:1\nCOPY greeting.txt /\nRUN cat /greeting.txt\n"
    )
    build.get_by_label("Files for the context").set_input_files(str(greeting))
    build.get_by_label("Tags", exact=True).fill(from_files)
    build.get_by_role("button", name="Build", exact=True).click()
    title = f"build {from_files} on {unix_host.name}"
    job = _job(page, title)
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
    expect(job.get_by_role("log", name=f"Output of {title}")).to_contain_text("hello from a file")

    # A tar.gz context with the Dockerfile at another path; a missing archive is refused on its field.
    build.get_by_label("Upload a context").check()
    build.get_by_label("Dockerfile path in the archive").fill("build/Dockerfile.e2e")
    build.get_by_label("Tags", exact=True).fill(from_tar)
    build.get_by_role("button", name="Build", exact=True).click()
    archive = build.get_by_label("Context archive")
    expect(archive).to_have_attribute("aria-invalid", "true")
    expect(archive).to_have_accessible_description(re.compile("exactly one of"))
    archive.set_input_files(str(context))
    build.get_by_role("button", name="Build", exact=True).click()
    title = f"build {from_tar} on {unix_host.name}"
    job = _job(page, title)
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
    expect(job.get_by_role("log", name=f"Output of {title}")).to_contain_text("uploaded-context-ok")
    expect(job).to_contain_text("image ")
    screenshot(page, "images-08-build-upload")
    expect(page.get_by_role("row", name=from_tar, exact=True)).to_be_visible()


def test_registries_page_adds_tests_browses_and_pushes_with_credentials(
    page: Any,
    testbed: Testbed,
    unix_host: Host,
    alice: User,
    celery_worker: None,
    tmp_path: Any,
    removed_after: list[str],
) -> None:
    with auth_registry(testbed.engine1, str(tmp_path)) as private:
        log_in(page, "alice", "alice-password-1")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
        expect(page.get_by_role("heading", name="Registries")).to_be_visible()
        expect(page.get_by_role("table", name="Registries")).to_contain_text("No registries are known")

        # Add: the server's validation appears on its field.
        page.get_by_role("link", name="Add registry").click()
        page.get_by_label("Name", exact=True).fill("private-e2e")
        page.get_by_label("API URL").fill("ftp://registry.invalid")
        page.get_by_role("button", name="Add registry").click()
        url_field = page.get_by_label("API URL")
        expect(url_field).to_have_attribute("aria-invalid", "true")
        expect(url_field).to_have_accessible_description(re.compile("base URL"))
        expect(page.get_by_label("Name", exact=True)).not_to_have_attribute("aria-invalid", "true")
        screenshot(page, "registries-01-validation")
        url_field.fill(private.url)
        page.get_by_label("Registry in image names").fill(private.address)
        page.get_by_label("Username").fill(private.username)
        page.get_by_label("Password", exact=True).fill("not-the-password")
        page.get_by_role("button", name="Add registry").click()

        # Listed with its credentials write-only; the wrong password fails the connection test.
        row = page.get_by_role("row", name="private-e2e", exact=True)
        expect(row).to_contain_text("password set")
        expect(row).to_contain_text(private.address)
        assert "not-the-password" not in page.content()
        row.get_by_role("button", name="Test connection").click()
        result = page.get_by_role("status", name="Connection test of private-e2e")
        expect(result).to_contain_text("Connection failed")
        expect(result).to_contain_text("401")

        # Edit: the password field is empty, says one is set; the right one makes the test pass.
        row.get_by_role("link", name="Edit").click()
        expect(page.get_by_role("heading", name="Edit registry private-e2e")).to_be_visible()
        password = page.get_by_label("Password", exact=True)
        expect(password).to_have_value("")
        expect(password).to_have_accessible_description(re.compile("A password is set"))
        password.fill(private.password)
        page.get_by_role("button", name="Save").click()
        row = page.get_by_role("row", name="private-e2e", exact=True)
        row.get_by_role("button", name="Test connection").click()
        result = page.get_by_role("status", name="Connection test of private-e2e")
        expect(result).to_contain_text("Connected")
        expect(result).to_contain_text(f"as '{private.username}'")
        screenshot(page, "registries-02-connected")

        # Push a local image into it from the images page (a job using the stored credentials).
        target = f"{private.address}/team/e2e-app:1"
        removed_after.append(target)
        page.goto(f"/images?host={unix_host.pk}")
        source = page.get_by_role("row", name=_containing("dwtest/busybox:latest"))
        source.get_by_role("button", name="Push").click()
        push = page.get_by_role("form", name=re.compile(r"^Push "))
        push.get_by_label("Registry").select_option(label=f"private-e2e ({private.address})")
        push.get_by_label("Repository").fill("team/e2e-app")
        push.get_by_label("Push tag").fill("1")
        push.get_by_role("button", name=f"Push to {target}").click()
        title = f"push {target} on {unix_host.name}"
        job = _job(page, title)
        expect(job.locator(".badge")).to_have_text("succeeded", timeout=JOB_TIMEOUT)
        expect(job.get_by_role("progressbar", name=f"Progress of {title}")).to_have_js_property("value", 100)
        bars = _layer_bars(job)
        assert bars and all(value == maximum for value, maximum in bars), bars
        expect(job).to_contain_text("digest sha256:")
        screenshot(page, "registries-03-pushed")

        # Browse its repositories and tags, and search them.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
        page.get_by_role("row", name="private-e2e", exact=True).get_by_role("button", name="Browse").click()
        panel = page.get_by_role("region", name="Browse private-e2e")
        repositories = panel.get_by_role("list", name="Repositories")
        expect(repositories.get_by_role("button", name="team/e2e-app")).to_be_visible()
        repositories.get_by_role("button", name="team/e2e-app").click()
        tags = panel.get_by_role("table", name="Tags of team/e2e-app")
        expect(tags.get_by_role("row", name=re.compile(r"^1 "))).to_contain_text(target)
        screenshot(page, "registries-04-browse")
        panel.get_by_label("Search repositories").fill("zzz-no-such")
        panel.get_by_role("button", name="Search").click()
        expect(panel).to_contain_text("No repository matches.")
        panel.get_by_label("Search repositories").fill("e2e")
        panel.get_by_role("button", name="Search").click()
        expect(panel).to_contain_text("Repositories matching “e2e”")
        expect(repositories.get_by_role("listitem")).to_have_text(["team/e2e-app"])

        # "Pull…" on a tag opens the images page with the pull form filled in.
        tags.get_by_role("link", name=f"Pull {target}").click()
        expect(page.get_by_role("form", name="Pull an image").get_by_label("Image to pull")).to_have_value(
            target
        )

        # Remove it.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
        row = page.get_by_role("row", name="private-e2e", exact=True)
        row.get_by_role("button", name="Remove").click()
        row.get_by_role("button", name="Yes, remove").click()
        expect(page.get_by_role("row", name="private-e2e", exact=True)).to_have_count(0)
        assert not Registry.objects.filter(name="private-e2e").exists()


def test_viewers_and_operators_see_no_actions_they_may_not_take(
    page: Any, testbed: Testbed, unix_host: Host, alice: User
) -> None:
    Registry.objects.create(
        name="testbed", url=testbed.registry_url, server=testbed.registry, created_by=alice
    )
    vera = User.objects.create_user("vera", password="vera-password-1")
    Grant.objects.create(user=vera, host=unix_host, role=Role.VIEWER)
    dave = User.objects.create_user("dave", password="dave-password-1")
    Grant.objects.create(user=dave, host=unix_host, role=Role.OPERATOR)

    # A viewer: registries can be tested and browsed, not managed; the reason is shown.
    log_in(page, "vera", "vera-password-1")
    page.goto("/registries")
    row = page.get_by_role("row", name="testbed", exact=True)
    expect(row).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text="Only administrators may add, edit or remove")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Add registry")).to_have_count(0)
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)
    expect(row.get_by_role("button", name="Remove")).to_have_count(0)
    row.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status", name="Connection test of testbed")).to_contain_text("Connected")
    row.get_by_role("button", name="Browse").click()
    panel = page.get_by_role("region", name="Browse testbed")
    panel.get_by_role("list", name="Repositories").get_by_role("button", name="busybox", exact=True).click()
    tags = panel.get_by_role("table", name="Tags of busybox")
    expect(tags.get_by_role("rowheader")).to_have_text(["1", "latest"])
    expect(tags.get_by_role("link")).to_have_count(0)  # no "Pull…": a viewer may not pull
    screenshot(page, "registries-05-viewer")
    page.goto("/registries/new")
    expect(
        page.get_by_role("status").filter(has_text="Only administrators may add, edit or remove")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Add registry")).to_have_count(0)

    # On the images page: the list and history, but no pull, build, tag, push, remove or prune.
    page.goto(f"/images?host={unix_host.pk}")
    expect(
        page.get_by_role("status").filter(has_text=f"Your role on {unix_host.name} is viewer")
    ).to_be_visible()
    image_row = page.get_by_role("row", name=_containing("dwtest/busybox:latest"))
    expect(image_row.get_by_role("button", name="History")).to_be_visible()
    for name in ("Tag", "Push", "Remove"):
        expect(image_row.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("form", name="Pull an image")).to_have_count(0)
    expect(page.get_by_role("form", name="Build an image")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Prune"))).to_have_count(0)
    screenshot(page, "images-07-viewer")
    page.get_by_role("button", name="Log out").click()

    # An operator pulls and builds, but pruning needs the host's admin role, which the page says.
    log_in(page, "dave", "dave-password-1")
    page.goto(f"/images?host={unix_host.pk}")
    expect(page.get_by_role("form", name="Pull an image")).to_be_visible()
    expect(page.get_by_role("form", name="Build an image")).to_be_visible()
    expect(page.get_by_text("Pruning images needs the admin role")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Prune"))).to_have_count(0)
    image_row = page.get_by_role("row", name=_containing("dwtest/busybox:latest"))
    expect(image_row.get_by_role("button", name="Tag")).to_be_visible()
