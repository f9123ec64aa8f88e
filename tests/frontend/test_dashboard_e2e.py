"""The dashboard in a real browser (Chromium via Playwright) against a live ASGI server and the real engine:
log in, hosts, run a container from the form, its logs live, the console, policy denials, tokens."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User

from hosts.models import Grant, Host, Role
from tests.frontend.conftest import log_in, remove_container, screenshot
from tests.frontend.playwright_expect import expect
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]

# A line with markup and ANSI colours first, then a line every 0.3 s while the viewer watches.
SCRIPT = (
    r"printf '\033[31m<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script>\033[0m\n'; "
    r'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.3; done'
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_admin_runs_a_container_and_follows_its_logs_and_console(
    page: Any, testbed: Testbed, unix_host: Host, alice: User
) -> None:
    name = _name("e2e-web")
    try:
        # Signed out: the app sends us to the login page, and back afterwards.
        page.goto("/hosts")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fhosts"))
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("didn't match")
        screenshot(page, "01-login")
        page.get_by_label("Password").fill("alice-password-1")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Hosts")).to_be_visible()

        # Hosts: the new host is unchecked until refreshed, then up with its engine version.
        card = page.get_by_role("article", name=unix_host.name)
        card.get_by_role("button", name="Refresh").click()
        expect(card.locator(".badge")).to_have_text("up")
        expect(card).to_contain_text("Docker ")
        screenshot(page, "02-hosts")

        # Run a container from the form.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Containers").click()
        page.get_by_role("link", name="Run container").click()
        page.get_by_label("Image").fill(testbed.images[0])
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Command").fill(_shell_quote(SCRIPT))
        page.get_by_label("Environment").fill("GREETING=hello")
        screenshot(page, "03-run-form")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.locator(".page-title .badge")).to_have_text("running")
        expect(page.get_by_role("region", name="Environment")).to_contain_text("GREETING=hello")
        screenshot(page, "04-container-overview")

        # It is in the table across hosts.
        page.get_by_role("link", name="Containers", exact=True).first.click()
        page.get_by_label("Search").fill(name)
        table = page.get_by_role("table", name="Containers")
        expect(table.get_by_role("link", name=name)).to_be_visible()
        expect(table).to_contain_text(unix_host.name)
        screenshot(page, "05-containers")

        # Logs arrive live; markup in a log line is text, ANSI colours are styles.
        table.get_by_role("link", name=name).click()
        page.get_by_role("link", name="Logs").click()
        lines = page.get_by_role("log", name="Log lines")
        expect(lines).to_contain_text("tick 3")
        expect(lines).to_contain_text("tick 6")  # still arriving
        expect(lines).to_contain_text("<img src=x onerror=window.__pwned=1> <script>")
        assert lines.locator("img, script").count() == 0
        assert page.evaluate("window.__pwned") is None
        coloured = lines.locator("span[style*='color']", has_text="<img src=x")
        expect(coloured).to_have_count(1)
        page.get_by_label("Search").fill("tick 1")
        expect(lines.locator("mark").first).to_have_text("tick 1")
        screenshot(page, "06-logs")

        # The console: a shell in the container.
        page.get_by_role("link", name="Console").click()
        expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
        page.get_by_label("Terminal", exact=True).click()
        page.keyboard.type("echo hi-$((40+2))\n")
        expect(page.locator(".console-screen .xterm-rows")).to_contain_text("hi-42")
        screenshot(page, "07-console")

        # Stats: live numbers.
        page.get_by_role("link", name="Stats").click()
        expect(page.get_by_role("definition").filter(has_text="%").first).to_be_visible()
        screenshot(page, "08-stats")

        # Stop, then remove.
        page.get_by_role("link", name="Overview").click()
        page.get_by_role("toolbar", name="Container actions").get_by_role("button", name="Stop").click()
        expect(page.locator(".page-title .badge")).to_have_text("exited", timeout=20_000)
        page.get_by_role("button", name="Remove").click()
        page.get_by_role("button", name="Yes, remove").click()
        expect(page.get_by_role("heading", name="Containers")).to_be_visible()
        page.get_by_label("Search").fill(name)
        expect(page.get_by_role("table", name="Containers")).to_contain_text("No containers match")
    finally:
        remove_container(testbed, name)


def _shell_quote(script: str) -> str:
    return "sh -c " + "'" + script.replace("'", "'\"'\"'") + "'"


def test_policy_denial_is_shown_next_to_the_field_and_viewers_see_no_actions(
    page: Any, testbed: Testbed, unix_host: Host
) -> None:
    dave = User.objects.create_user("dave", password="dave-password-1")
    Grant.objects.create(user=dave, host=unix_host, role=Role.OPERATOR)
    vera = User.objects.create_user("vera", password="vera-password-1")
    Grant.objects.create(user=vera, host=unix_host, role=Role.VIEWER)

    log_in(page, "dave", "dave-password-1")
    page.goto("/containers/run")
    page.get_by_label("Image").fill(testbed.images[0])
    page.get_by_label("Privileged").check()
    page.get_by_role("button", name="Run", exact=True).click()
    privileged = page.get_by_label("Privileged")
    expect(privileged).to_have_attribute("aria-invalid", "true")
    expect(privileged).to_have_accessible_description(
        re.compile(r"policy rule \S+, field HostConfig\.Privileged")
    )
    page.get_by_label("Privileged").uncheck()
    page.get_by_role("button", name="Add volume").click()
    page.get_by_label("Volume 1").fill("/")
    page.get_by_label("Mount path 1").fill("/host")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_label("Volume 1")).to_have_accessible_description(
        re.compile(r"HostConfig\.Binds\[0\]")
    )
    screenshot(page, "09-policy-denial")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to dockerweb")).to_be_visible()

    # A viewer sees the (unowned, shared) container but no action buttons and no console.
    unix_host.unowned_access = True
    unix_host.save(update_fields=["unowned_access"])
    name = _name("e2e-viewed")
    import docker

    client = docker.DockerClient(base_url=testbed.engine1.unix_url)
    try:
        client.containers.run(testbed.images[0], ["sleep", "60"], name=name, detach=True)
        log_in(page, "vera", "vera-password-1")
        page.goto(f"/hosts/{unix_host.pk}/containers/{name}")
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="viewer role")).to_be_visible()
        expect(page.get_by_role("toolbar", name="Container actions")).to_have_count(0)
        expect(page.get_by_role("link", name="Console")).to_have_count(0)
        page.goto("/containers")
        expect(page.get_by_role("link", name="Run container")).to_have_count(0)
        screenshot(page, "10-viewer")
    finally:
        client.containers.get(name).remove(force=True)
        client.close()


def test_tokens_are_shown_once_and_revoked(page: Any, live_server_url: str, alice: User) -> None:
    log_in(page, "alice", "alice-password-1")
    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Token name").fill("ci-e2e")
    page.get_by_label("Only hosts").fill("staging-*")
    page.get_by_label("At most").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New token").input_value()
    assert len(token) > 20
    row = page.get_by_role("row", name=re.compile("ci-e2e"))
    expect(row).to_contain_text("hosts staging-* · at most viewer")
    screenshot(page, "11-tokens")
    me = _me(live_server_url, token)
    assert me["username"] == "alice" and me["token"]["max_role"] == "viewer", me

    page.get_by_role("button", name="Done").click()
    expect(page.get_by_label("New token")).to_have_count(0)  # shown once: gone for good
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("row", name=re.compile("ci-e2e"))).to_have_count(0)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _me(live_server_url, token)
    assert refused.value.code == 401


def test_host_form_shows_server_validation_on_fields(page: Any, alice: User) -> None:
    log_in(page, "alice", "alice-password-1")
    page.goto("/hosts/new")
    page.get_by_label("Name").fill("Not A Valid Name!")
    page.get_by_label("Engine URL").fill("ftp://example.invalid")
    page.get_by_role("button", name="Add host").click()
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_accessible_description(re.compile(r"\S"))
    page.get_by_label("Name").fill("e2e-bad-url")
    page.get_by_role("button", name="Add host").click()
    expect(page.get_by_label("Engine URL")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).not_to_have_attribute("aria-invalid", "true")
    screenshot(page, "12-host-form-errors")


def test_the_app_and_its_assets_are_served_with_the_right_caching(live_server_url: str) -> None:
    with urllib.request.urlopen(f"{live_server_url}/containers", timeout=10) as response:  # noqa: S310
        html = response.read().decode()
        assert (
            "no-cache" in response.headers["Cache-Control"]
            or "max-age=0" in response.headers["Cache-Control"]
        )
    scripts = re.findall(r'src="(/static/dashboard/[^"]+\.js)"', html)
    assert scripts, html
    with urllib.request.urlopen(f"{live_server_url}{scripts[0]}", timeout=10) as asset:  # noqa: S310
        assert asset.headers["Content-Type"].startswith("text/javascript")
        assert "immutable" in asset.headers["Cache-Control"]


def _me(base: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{base}/api/v1/me/", headers=headers)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return dict(json.loads(response.read()))


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/networks", "Networks"),
        ("/volumes", "Volumes"),
        ("/images", "Images"),
        ("/audit", "Audit log"),
        ("/teams", "Teams"),
        ("/grants", "Grants"),
        ("/no-such-page", "Page not found"),
    ],
)
def test_every_page_renders_without_errors(page: Any, unix_host: Host, path: str, heading: str) -> None:
    log_in(page, "alice", "alice-password-1")
    page.goto(f"{path}?host={unix_host.pk}")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("alert")).to_have_count(0)
    screenshot(page, f"page{path.replace('/', '-')}")
