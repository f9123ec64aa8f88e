"""The users page in a real browser: an administrator adds a user (the server's password rules shown on the
field), makes them an administrator, deactivates and reactivates them; nobody deactivates themselves; a user
who is no administrator sees only their own account."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from hosts.models import Host, Team
from images.models import Job, JobKind, JobStatus
from tests.frontend.conftest import log_in, screenshot
from tests.frontend.playwright_expect import expect

pytestmark = [pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Tangerine-Lighthouse-42"


def _open_users(page: Any) -> None:
    _users_link(page).click()
    expect(page).to_have_url(re.compile(r"/users$"))
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()


def _row(page: Any, username: str) -> Any:
    """The table row of `username` (its row header is the username, "(you)" after one's own)."""
    header = page.get_by_role("rowheader", name=re.compile(rf"^{re.escape(username)}\b"))
    return page.get_by_role("row").filter(has=header)


def _users_link(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")


def _login_result(browser: Any, base_url: str, username: str, password: str) -> tuple[Any, Any]:
    """Tries to log in as `username` in a fresh browser context: (context, page) for the caller to inspect."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    fresh = context.new_page()
    fresh.goto("/login")
    fresh.get_by_label("Username").fill(username)
    fresh.get_by_label("Password").fill(password)
    fresh.get_by_role("button", name="Log in").click()
    return context, fresh


def test_admin_adds_edits_deactivates_and_reactivates_a_user(
    page: Any, browser: Any, live_server_url: str, alice: User
) -> None:
    username = f"carol-{uuid.uuid4().hex[:6]}"
    log_in(page, "alice", "alice-password-1")
    _open_users(page)
    expect(_row(page, "alice")).to_contain_text("administrator")

    # Add a user: the two passwords must match (checked here), then the server's rules apply.
    page.get_by_role("button", name="Add user").click()
    form = page.get_by_role("form", name="Add a user")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Email").fill(f"{username}@example.com")
    form.get_by_label("First name").fill("Carol")
    form.get_by_label("Last name").fill("Jones")
    form.get_by_label("Password", exact=True).fill("short")
    form.get_by_label("Confirm password").fill("shorter")
    form.get_by_role("button", name="Add user").click()
    expect(form.get_by_label("Confirm password")).to_have_accessible_description(
        "The two passwords do not match."
    )
    assert not User.objects.filter(username=username).exists()

    form.get_by_label("Confirm password").fill("short")
    form.get_by_role("button", name="Add user").click()
    password = form.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(re.compile(r"too short.*at least 8 characters"))
    assert not User.objects.filter(username=username).exists()
    screenshot(page, "users-01-password-rules")

    password.fill(NEW_PASSWORD)
    form.get_by_label("Confirm password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status").filter(has_text=f"User {username} added.")).to_be_visible()
    expect(form).to_be_hidden()
    row = _row(page, username)
    expect(row).to_contain_text("Carol Jones")
    expect(row).to_contain_text(f"{username}@example.com")
    expect(row).to_contain_text("active")
    expect(row).not_to_contain_text("administrator")
    expect(row).to_contain_text("never")  # has not logged in yet
    created = User.objects.get(username=username)
    assert created.check_password(NEW_PASSWORD) and not created.is_superuser

    # The new user logs in with that password in a browser of their own.
    context, fresh = _login_result(browser, live_server_url, username, NEW_PASSWORD)
    try:
        expect(fresh.get_by_role("button", name="Log out")).to_be_visible()
        expect(fresh.get_by_label("Signed in as")).to_have_text(username)
        # Not an administrator yet: no Users link.
        expect(_users_link(fresh)).to_have_count(0)
    finally:
        context.close()

    # Edit: make them an administrator, password left empty (kept).
    page.reload()
    row = _row(page, username)
    expect(row).not_to_contain_text("never")  # they have logged in now
    row.get_by_role("button", name=f"Edit {username}").click()
    form = page.get_by_role("form", name=f"Edit user {username}")
    expect(form.get_by_label("Username")).to_have_value(username)
    expect(form.get_by_label("Password", exact=True)).to_have_accessible_description(
        "Leave empty to keep the current password."
    )
    form.get_by_label("Administrator").check()
    form.get_by_role("button", name="Save user").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {username}.")).to_be_visible()
    expect(_row(page, username)).to_contain_text("administrator")
    created.refresh_from_db()
    assert created.is_superuser and created.check_password(NEW_PASSWORD)
    screenshot(page, "users-02-list")

    # Deactivate (with a confirmation): gone from the default list, their login is refused.
    _row(page, username).get_by_role("button", name="Deactivate").click()
    page.get_by_role("group", name=re.compile(rf"^Deactivate {username}\?")).get_by_role(
        "button", name="Yes, deactivate"
    ).click()
    expect(page.get_by_role("status").filter(has_text=f"{username} deactivated.")).to_be_visible()
    expect(_row(page, username)).to_have_count(0)
    created.refresh_from_db()
    assert not created.is_active

    context, fresh = _login_result(browser, live_server_url, username, NEW_PASSWORD)
    try:
        expect(fresh.get_by_role("alert")).to_contain_text("account is inactive")
        expect(fresh.get_by_role("button", name="Log out")).to_have_count(0)
        expect(fresh).to_have_url(re.compile(r"/login"))
        screenshot(fresh, "users-03-deactivated-login")
    finally:
        context.close()

    # Shown again with "Show deactivated", and found by search; reactivate.
    page.get_by_label("Show deactivated").check()
    page.get_by_role("searchbox", name="Search users").fill(username[:9])
    expect(page.get_by_role("row").filter(has=page.get_by_role("rowheader"))).to_have_count(1)
    row = _row(page, username)
    expect(row).to_contain_text("deactivated")
    screenshot(page, "users-04-deactivated")
    row.get_by_role("button", name="Reactivate").click()
    confirm = page.get_by_role("group", name=f"Reactivate {username}?")
    confirm.get_by_role("button", name="Yes, reactivate").click()
    expect(page.get_by_role("status").filter(has_text=f"{username} reactivated.")).to_be_visible()
    expect(row.locator(".badge", has_text=re.compile("^active$"))).to_be_visible()
    created.refresh_from_db()
    assert created.is_active

    context, fresh = _login_result(browser, live_server_url, username, NEW_PASSWORD)
    try:
        expect(fresh.get_by_role("button", name="Log out")).to_be_visible()
        # Now an administrator: the Users link is there.
        expect(_users_link(fresh)).to_be_visible()
    finally:
        context.close()


def test_admin_cannot_deactivate_or_demote_themselves(page: Any, alice: User, bob: User) -> None:
    log_in(page, "alice", "alice-password-1")
    _open_users(page)
    own = _row(page, "alice")
    expect(own).to_contain_text("(you)")
    deactivate = own.get_by_role("button", name="Deactivate")
    expect(deactivate).to_be_disabled()
    expect(deactivate).to_have_attribute("title", re.compile("cannot deactivate yourself"))
    # Someone else's row has it enabled.
    expect(_row(page, "bob").get_by_role("button", name="Deactivate")).to_be_enabled()

    own.get_by_role("button", name="Edit alice").click()
    form = page.get_by_role("form", name="Edit user alice")
    expect(form.get_by_label("Administrator")).to_be_checked()
    expect(form.get_by_label("Administrator")).to_be_disabled()
    expect(form).to_contain_text("cannot remove your own administrator right")
    screenshot(page, "users-05-self")
    alice.refresh_from_db()
    assert alice.is_active and alice.is_superuser


def test_user_who_is_no_administrator_sees_only_themselves(page: Any, alice: User, bob: User) -> None:
    log_in(page, "bob", "bob-password-1")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams")).to_be_visible()
    expect(_users_link(page)).to_have_count(0)

    page.goto("/users")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    rows = page.get_by_role("row").filter(has=page.get_by_role("rowheader"))
    expect(rows).to_have_count(1)
    expect(_row(page, "bob")).to_contain_text("bob@example.com")
    expect(page.get_by_role("table")).not_to_contain_text("alice")
    expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("search")).to_have_count(0)
    screenshot(page, "users-06-non-admin")


def test_the_open_jobs_panel_never_covers_the_last_rows(page: Any, alice: User, bob: User) -> None:
    team = Team.objects.create(name="ops")
    team.members.add(bob)
    for n in range(30):
        User.objects.create_user(f"user-{n:02d}", f"user-{n:02d}@example.com", "user-password-1")
    # Jobs as a worker leaves them while it pulls (the host is never contacted here).
    host = Host.objects.create(name="nowhere", url="unix:///nonexistent/docker.sock", created_by=alice)
    for n in range(4):
        Job.objects.create(
            kind=JobKind.PULL, host=host, user=alice, params={"image": f"localhost:1/app{n}:1"},
            status=JobStatus.RUNNING, run_id=uuid.uuid4(), heartbeat_at=timezone.now(),
        )  # fmt: skip
    log_in(page, "alice", "alice-password-1")
    _open_users(page)
    panel = page.get_by_role("complementary", name="Jobs")
    expect(panel.get_by_role("button", name=re.compile(r"^Jobs \(4 running\)"))).to_have_attribute(
        "aria-expanded", "true"
    )
    # Teams are links to the teams page.
    expect(_row(page, "bob").get_by_role("link", name="ops")).to_have_attribute("href", "/teams")

    # Followed from the nav, the page has the focus: the keyboard scrolls it at once.
    page.keyboard.press("End")
    expect(page.get_by_role("main")).to_be_focused()
    expect(_row(page, "user-29")).to_be_in_viewport()
    last = _row(page, "user-29").get_by_role("button", name="Deactivate")
    last.scroll_into_view_if_needed()
    expect(last).to_be_visible()
    button, dock = last.bounding_box(), panel.bounding_box()
    assert button is not None and dock is not None
    assert button["y"] + button["height"] <= dock["y"], (button, dock)
    # Nothing lies on top of it: a click at its centre reaches it.
    centre = (button["x"] + button["width"] / 2, button["y"] + button["height"] / 2)
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.textContent", list(centre))
    assert hit == "Deactivate"
    last.click()
    expect(page.get_by_role("group", name=re.compile(r"^Deactivate user-29\?"))).to_be_visible()
    screenshot(page, "users-07-jobs-panel-docked")
    page.get_by_label("Theme").select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    screenshot(page, "users-08-jobs-panel-dark")
