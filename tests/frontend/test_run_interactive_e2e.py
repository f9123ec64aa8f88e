"""`docker run -it` in a real browser (Chromium via Playwright) against a live ASGI server and the real
engine: the run form's "Interactive (-it)" creates the container, the console attaches to its main process and
starts it; the console tab attaches again to a stopped container, and detaching leaves it running."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User

from hosts.models import AuditEntry, Host
from tests.frontend.conftest import log_in, remove_container, screenshot
from tests.frontend.playwright_expect import expect
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]


def _container_state(testbed: Testbed, name: str) -> dict[str, Any]:
    import docker

    client = docker.DockerClient(base_url=testbed.engine1.unix_url)
    try:
        state: dict[str, Any] = client.containers.get(name).attrs["State"]
        return state
    finally:
        client.close()


def test_interactive_run_attaches_the_console_then_starts_the_container(
    page: Any, testbed: Testbed, unix_host: Host, alice: User
) -> None:
    name = f"e2e-it-{uuid.uuid4().hex[:8]}"
    try:
        log_in(page, "alice", "alice-password-1")
        page.goto("/containers/run")
        page.get_by_label("Image").fill(testbed.images[0])
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Command").fill("sh")
        page.get_by_label("Interactive (-it)", exact=True).check()
        # -it means a terminal and open stdin: both are on and fixed.
        expect(page.get_by_label("Allocate a terminal (tty)")).to_be_checked()
        expect(page.get_by_label("Allocate a terminal (tty)")).to_be_disabled()
        expect(page.get_by_label("Keep stdin open (interactive)")).to_be_checked()
        page.get_by_role("button", name="Run", exact=True).click()

        # The console tab, attached to the main process, which it started (the address keeps no start=1).
        expect(page).to_have_url(re.compile(rf"/hosts/{unix_host.pk}/containers/{name}/console$"))
        status = page.get_by_role("region", name="Console").get_by_role("status")
        expect(status).to_contain_text("Connected: attached to the main process, started it")
        expect(page.locator(".page-title .badge")).to_have_text("running")
        expect(page.get_by_role("radio", name="Attach to main process")).to_be_checked()
        page.get_by_label("Terminal", exact=True).click()
        page.keyboard.type("echo hi-$((40+2))\n")
        screen = page.locator(".console-screen .xterm-rows")
        expect(screen).to_contain_text("hi-42")
        screenshot(page, "run-it-01-attached")
        page.keyboard.type("exit 3\n")
        expect(status).to_have_text("The main process exited with code 3.")
        expect(page.locator(".page-title .badge")).to_have_text("exited")
        assert _container_state(testbed, name)["ExitCode"] == 3

        # `docker start -ai` from the console tab: a new shell, then detach; the container goes on.
        page.get_by_role("button", name="Start and attach").click()
        expect(status).to_contain_text("started it")
        page.get_by_label("Terminal", exact=True).click()
        page.keyboard.type("echo again-$((1+1))\n")
        expect(screen).to_contain_text("again-2")
        page.get_by_role("button", name="Detach").click()
        expect(page.locator(".page-title .badge")).to_have_text("running")
        assert _container_state(testbed, name)["Running"]
        screenshot(page, "run-it-02-detached")

        # The exec console is still there beside it, with its shell choice.
        page.get_by_role("radio", name="Exec a shell").check()
        expect(page.get_by_role("combobox", name="Shell")).to_have_value("sh")
        page.get_by_role("button", name="Connect").click()
        expect(status).to_contain_text("Connected: sh")
    finally:
        remove_container(testbed, name)
    sessions = AuditEntry.objects.filter(action="container.attach", object_name=name).order_by("pk")
    assert [e.detail for e in sessions] == [
        "exit code 3",
        "detached by the client; the container is still running",
    ]
