"""The hosts page in a real browser: importing docker context exports, and a host's live usage totals."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from django.contrib.auth.models import User

from hosts.models import Grant, Host, Role
from tests.frontend.conftest import log_in, screenshot
from tests.frontend.playwright_expect import expect
from tests.hosts.context_exports import export_bytes
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]


def test_admin_imports_docker_context_exports_and_sees_each_outcome(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, tmp_path: Path
) -> None:
    name = f"ctx-{uuid.uuid4().hex[:6]}"
    good = tmp_path / f"{name}.dockercontext"
    good.write_bytes(export_bytes(name, testbed.engine2.unix_url))
    taken = tmp_path / "taken.dockercontext"
    taken.write_bytes(export_bytes(unix_host.name, testbed.engine1.unix_url))
    junk = tmp_path / "junk.dockercontext"
    junk.write_bytes(b"this is not a tar")

    log_in(page, "alice", "alice-password-1")
    page.goto("/hosts")
    page.get_by_role("button", name="Import docker contexts").click()
    page.get_by_label("Context files").set_input_files([str(good), str(taken), str(junk)])
    page.get_by_role("button", name="Import 3 files").click()
    report = page.get_by_role("table", name="Import results")
    expect(report.locator("tr[data-outcome=added]")).to_contain_text(name)
    expect(report.locator("tr[data-outcome=skipped]")).to_contain_text("left as it is")
    expect(report.locator("tr[data-outcome=failed]")).to_contain_text("Not a docker context export")
    # The new host's card appears, checked and up, without a reload.
    card = page.get_by_role("article", name=name)
    expect(card).to_contain_text("Docker 20.10")
    screenshot(page, "20-hosts-import-contexts")
    assert Host.objects.get(name=name).status == "up"


def test_live_usage_shows_the_totals_of_the_running_containers(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, bob: User
) -> None:
    Grant.objects.create(user=bob, host=unix_host, role=Role.VIEWER)
    unix_host.unowned_access = True  # the container below is started outside dockerweb: nobody owns it
    unix_host.save(update_fields=["unowned_access"])
    engine = docker.DockerClient(base_url=testbed.engine1.unix_url)
    busy = engine.containers.run(
        testbed.images[0],
        ["sh", "-c", "while true; do :; done"],
        detach=True,
        name=f"busy-{uuid.uuid4().hex[:6]}",
    )
    try:
        log_in(page, "bob", "bob-password-1")
        page.goto("/hosts")
        card = page.get_by_role("article", name=unix_host.name)
        expect(page.get_by_role("button", name="Import docker contexts")).to_have_count(0)  # not an admin
        card.get_by_role("button", name="Show live usage").click()
        usage = card.get_by_label(f"Live usage of {unix_host.name}")
        # A busy loop: CPU well above zero once the engine has two samples.
        expect(usage).to_contain_text(re.compile(r"CPU\s*([1-9]\d*|\d+\.\d*[1-9])\.?\d* %"), timeout=20_000)
        expect(usage).to_contain_text(re.compile(r"[1-9]\d* running"))
        expect(usage).to_contain_text("Memory")
        screenshot(page, "21-hosts-live-usage")
        card.get_by_role("button", name="Hide live usage").click()
        expect(usage).to_have_count(0)
    finally:
        busy.remove(force=True)
        engine.close()
