"""The containers page and the log viewer in a real browser (Chromium via Playwright) against the live server
and the real engines: bulk actions, live updates from the events websocket, merged logs of several
containers, and the viewer's search, wrap, pause/resume and downloads."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from hosts.models import Host
from tests.frontend.conftest import log_in, screenshot
from tests.frontend.playwright_expect import expect
from tests.testbed import Testbed

pytestmark = [pytest.mark.engine, pytest.mark.django_db(transaction=True)]

API = "1.41"


class Engine:
    """The docker SDK straight at engine1's socket (not through dockerweb); containers whose names start with
    a prefix from `prefix()` are removed after the test."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.api = client.api
        self.containers = client.containers
        self.prefixes: list[str] = []

    def prefix(self, what: str) -> str:
        self.prefixes.append(f"e2e-{what}-{uuid.uuid4().hex[:6]}")
        return self.prefixes[-1]


@pytest.fixture
def engine(testbed: Testbed) -> Iterator[Engine]:
    import docker

    client = docker.DockerClient(base_url=testbed.engine1.unix_url, version=API, timeout=60)
    engine = Engine(client)
    try:
        yield engine
    finally:
        for prefix in engine.prefixes:
            for item in client.api.containers(all=True, filters={"name": prefix}):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_container(item["Id"], force=True)
        client.close()


# A container that stops at once when asked (a plain `sleep` as PID 1 ignores SIGTERM: 10 s per stop).
SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 600 & wait']


def _row(table: Any, name: str) -> Any:
    return table.get_by_role("row", name=re.compile(rf"{re.escape(name)}\s"))


def _state(engine: Engine, name: str) -> str:
    return str(engine.api.inspect_container(name)["State"]["Status"])


def test_bulk_start_stop_restart_remove_show_each_result(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, engine: Engine
) -> None:
    prefix = engine.prefix("bulk")
    names = [f"{prefix}-{n}" for n in ("a", "b", "c")]
    for name in names:
        engine.containers.create(testbed.images[0], SLEEPER, name=name)
    broken = f"{prefix}-broken"  # created fine; starting it fails (no such executable)
    engine.containers.create(testbed.images[0], ["/no/such/program"], name=broken)
    bystander = f"{prefix}-z-untouched"
    engine.containers.create(testbed.images[0], SLEEPER, name=bystander)

    log_in(page, "alice", "alice-password-1")
    page.goto(f"/containers?q={prefix}")
    table = page.get_by_role("table", name="Containers")
    expect(table.get_by_role("link", name=bystander)).to_be_visible()
    bulk = page.get_by_role("toolbar", name="Bulk actions")
    expect(bulk.get_by_role("button", name="Start", exact=True)).to_be_disabled()
    for name in [*names, broken]:
        table.get_by_label(f"Select {name}", exact=True).check()
    expect(bulk).to_contain_text("4 selected")

    # Start: three started, the broken one fails with the engine's reason, each shown by name.
    bulk.get_by_role("button", name="Start", exact=True).click()
    report = page.get_by_role("status", name="Bulk action results")
    expect(report).to_contain_text("start: 3 done, 1 failed")
    for name in names:
        expect(report.get_by_role("listitem").filter(has_text=f"{name}: started")).to_be_visible()
    expect(report.get_by_role("listitem").filter(has_text=f"{broken}: failed")).to_contain_text(
        "/no/such/program"
    )
    for name in names:
        assert _state(engine, name) == "running"
        expect(_row(table, name)).to_contain_text("running")
    assert _state(engine, bystander) == "created"
    screenshot(page, "containers-bulk-start")

    # Stop.
    table.get_by_label(f"Select {broken}", exact=True).uncheck()
    expect(bulk).to_contain_text("3 selected")
    bulk.get_by_role("button", name="Stop").click()
    expect(report).to_contain_text("stop: 3 done")
    expect(report).not_to_contain_text("failed")
    for name in names:
        assert _state(engine, name) == "exited"
        expect(_row(table, name)).to_contain_text("exited")

    # Restart.
    bulk.get_by_role("button", name="Restart").click()
    expect(report).to_contain_text("restart: 3 done")
    for name in names:
        expect(report.get_by_role("listitem").filter(has_text=f"{name}: restarted")).to_be_visible()
        assert _state(engine, name) == "running"
        expect(_row(table, name)).to_contain_text("running")
    screenshot(page, "containers-bulk-restart")

    # Remove (running ones too), after a confirmation.
    bulk.get_by_role("button", name="Remove").click()
    bulk.get_by_role("button", name="Yes, remove").click()
    expect(report).to_contain_text("remove: 3 done")
    for name in names:
        expect(table.get_by_role("link", name=name, exact=True)).to_have_count(0)
        assert not engine.api.containers(all=True, filters={"name": f"^/{name}$"})
    expect(table.get_by_role("link", name=broken)).to_be_visible()
    expect(table.get_by_role("link", name=bystander)).to_be_visible()
    expect(bulk).to_contain_text("Select containers for bulk actions")
    screenshot(page, "containers-bulk-remove")


def test_a_container_started_outside_the_dashboard_appears_without_a_reload(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, engine: Engine
) -> None:
    prefix = engine.prefix("outside")
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/containers?q={prefix}")
    expect(page.locator(".page-title .badge", has_text="Live")).to_be_visible()
    table = page.get_by_role("table", name="Containers")
    expect(table).to_contain_text("No containers match")
    page.evaluate("window.__sameDocument = true")

    # docker run, straight at the engine's socket.
    name = f"{prefix}-cli"
    container = engine.containers.run(testbed.images[0], SLEEPER, name=name, detach=True)
    row = _row(table, name)
    expect(row).to_be_visible()
    expect(row).to_contain_text("running")
    expect(row).to_contain_text(unix_host.name)
    screenshot(page, "containers-live-run")

    container.stop(timeout=0)
    expect(row).to_contain_text("exited")
    container.remove()
    expect(table).to_contain_text("No containers match")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


# Each container prints "<its name> line <n>" every 0.2 s.
TICKER = 'i=0; while true; do echo "$NAME line $i"; i=$((i+1)); sleep 0.2; done'


def _line_numbers(texts: list[str], name: str) -> list[int]:
    return [int(m.group(1)) for t in texts if (m := re.search(rf"{re.escape(name)} line (\d+)", t))]


def test_merged_logs_colour_each_container_and_follow_them_all(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, engine: Engine
) -> None:
    prefix = engine.prefix("merged")
    project = prefix
    names = [f"{prefix}-{service}" for service in ("web", "db", "cache")]
    for name in names:
        engine.containers.run(
            testbed.images[0],
            ["sh", "-c", TICKER],
            name=name,
            environment={"NAME": name},
            labels={"com.docker.compose.project": project, "com.docker.compose.service": name},
            detach=True,
        )

    # From the containers page, grouped by compose project, to the project's merged logs.
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/containers?q={prefix}&group=1")
    group = page.get_by_role("table", name="Containers").get_by_role(
        "row", name=re.compile(f"Project {project}")
    )
    expect(group).to_contain_text("(3)")
    group.get_by_role("link", name="merged logs").click()
    expect(page.get_by_role("heading", name=f"Logs of project {project}")).to_be_visible()
    status = page.get_by_role("status").filter(has_text="Streaming")
    for name in names:
        expect(status).to_contain_text(name)

    lines = page.get_by_role("log", name="Log lines")
    for name in names:
        expect(lines).to_contain_text(f"{name} line 2")
    first = {name: max(_line_numbers(lines.locator(".line").all_inner_texts(), name)) for name in names}
    # Still arriving, from every container.
    for name in names:
        expect(lines).to_contain_text(f"{name} line {first[name] + 5}")

    # Each line names its container, in that container's colour, which the legend shows: one per container.
    legend = {
        item.inner_text().strip("● \n"): item.evaluate("(el) => getComputedStyle(el).color")
        for item in page.get_by_role("list", name="Merged containers").get_by_role("listitem").all()
    }
    assert set(legend) == set(names), legend
    assert len(set(legend.values())) == 3, legend
    # One snapshot of the rows (they move while lines arrive).
    rows = lines.locator(".line").evaluate_all(
        """(rows) => rows.map((row) => {
             const who = row.querySelector(".who");
             return { text: row.textContent, who: who && who.textContent.trim(),
                      colour: who && getComputedStyle(who).color };
           })"""
    )
    seen: dict[str, set[str]] = {}
    for row in rows:
        assert row["who"], row
        assert f"{row['who']} line " in row["text"], row
        seen.setdefault(row["who"], set()).add(row["colour"])
    assert seen == {name: {legend[name]} for name in names}, seen
    screenshot(page, "logs-merged")


# Alternating words to search for, one long line to wrap, and a line every 0.2 s.
VIEWER_SCRIPT = (
    "printf 'start %0400d end\\n' 0; "
    'i=0; while true; do if [ $((i % 2)) = 0 ]; then echo "alpha $i"; else echo "beta $i"; fi; '
    "i=$((i+1)); sleep 0.2; done"
)


def test_log_viewer_search_wrap_pause_and_download(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, engine: Engine, tmp_path: Path
) -> None:
    name = engine.prefix("viewer")
    engine.containers.run(testbed.images[0], ["sh", "-c", VIEWER_SCRIPT], name=name, detach=True)
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/hosts/{unix_host.pk}/containers/{name}/logs")
    viewer = page.get_by_role("region", name="Logs")
    lines = viewer.get_by_role("log", name="Log lines")
    _wait_for_number(lines, 17)

    # Unwrapped, the long line is one row as wide as its text; wrapped, it fits the pane in several rows.
    # Either way, rows follow each other without gaps or overlaps (also across the list's blocks of rows).
    long_line = lines.locator(".line", has_text="start 000")
    assert long_line.evaluate("(el) => el.getBoundingClientRect().height") == pytest.approx(19, abs=1)
    assert lines.evaluate("(el) => el.scrollWidth > el.clientWidth + 100")
    assert _rows_follow_each_other(lines)
    viewer.get_by_label("Wrap lines").check()
    expect(lines).to_have_class(re.compile(r"\bwrap\b"))
    assert long_line.evaluate("(el) => el.getBoundingClientRect().height") > 2 * 19
    assert lines.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1")
    assert _rows_follow_each_other(lines)
    screenshot(page, "logs-wrapped")
    viewer.get_by_label("Wrap lines").uncheck()
    assert long_line.evaluate("(el) => el.getBoundingClientRect().height") == pytest.approx(19, abs=1)
    assert _rows_follow_each_other(lines)

    # Pause: nothing new arrives; resume: lines flow again.
    viewer.get_by_role("button", name="Pause").click()
    resume = viewer.get_by_role("button", name="Resume")
    expect(resume).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("status").filter(has_text="lines shown")).to_contain_text("paused")
    page.wait_for_timeout(300)
    before = max(_numbers(lines))
    page.wait_for_timeout(1500)  # ~7 lines are printed meanwhile
    assert max(_numbers(lines)) == before
    screenshot(page, "logs-paused")
    resume.click()
    expect(viewer.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "false")
    _wait_for_number(lines, before + 8)

    # Download: the whole log from the server (with the time stamps shown), and the lines in the viewer.
    with page.expect_download() as download:
        viewer.get_by_role("link", name="Download", exact=True).click()
    whole = Path(download.value.path()).read_text().splitlines()
    assert re.fullmatch(r"\S+Z start 0{400} end", whole[0]), whole[0][:80]
    numbers = [int(m.group(1)) for line in whole if (m := re.fullmatch(r"\S+Z (?:alpha|beta) (\d+)", line))]
    assert numbers == list(range(len(numbers))), numbers[:20]
    assert len(numbers) > before + 8
    with page.expect_download() as download:
        viewer.get_by_role("button", name="Download shown lines").click()
    assert download.value.suggested_filename == f"{name}.log"
    shown = Path(download.value.path()).read_text().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z start 0{400} end", shown[0]), shown[0][:80]
    assert shown[1].endswith(" alpha 0") and shown[2].endswith(" beta 1"), shown[:3]
    assert len(shown) > before + 8

    # Search (server-side): only matching lines, the matches highlighted.
    viewer.get_by_label("Search").fill("beta")
    expect(lines.locator("mark").first).to_have_text("beta")
    expect(lines).not_to_contain_text("alpha")
    texts = lines.locator(".line").all_inner_texts()
    assert texts and all("beta" in text for text in texts), texts[:10]
    assert lines.locator("mark").count() == len(texts)
    _wait_for_number(lines, before + 13)  # still live while filtered
    screenshot(page, "logs-search")
    viewer.get_by_label("Regex").check()
    viewer.get_by_label("Search").fill(r"alpha 1\d\b")
    expect(lines.locator("mark").first).to_have_text(re.compile(r"^alpha 1\d$"))
    texts = lines.locator(".line").all_inner_texts()
    assert sorted(int(text.rsplit(" ", 1)[1]) for text in texts) == [10, 12, 14, 16, 18], texts


def _rows_follow_each_other(lines: Any) -> bool:
    """Every rendered row starts where the one before it ends (after the list settled)."""
    lines.page.wait_for_timeout(200)
    gaps = lines.evaluate(
        """(pane) => {
             const rows = [...pane.querySelectorAll(".line")].map((el) => el.getBoundingClientRect());
             return rows.slice(1).map((row, i) => Math.round(row.top - rows[i].bottom));
           }"""
    )
    assert len(gaps) > 16 and all(gap == 0 for gap in gaps), gaps
    return True


def _wait_for_number(lines: Any, number: int) -> None:
    """Until a row ending in `number` or a later one is on screen (the viewer follows the newest line)."""
    lines.page.wait_for_function(
        """([pane, number]) => [...pane.querySelectorAll(".line")]
             .some((row) => Number((/(\\d+)$/.exec(row.textContent) || [])[1] ?? -1) >= number)""",
        arg=[lines.element_handle(), number],
    )


def _numbers(lines: Any) -> list[int]:
    return [
        int(m.group(1)) for t in lines.locator(".line").all_inner_texts() if (m := re.search(r"(\d+)$", t))
    ]


# About 500 numbered lines a second.
FAST_SCRIPT = "i=0; while true; do seq $i $((i + 49)); i=$((i + 50)); sleep 0.1; done"


@pytest.mark.parametrize("wrap", [False, True], ids=["unwrapped", "wrapped"])
def test_log_viewer_holds_the_lines_in_view_while_the_window_moves(
    page: Any, testbed: Testbed, unix_host: Host, alice: User, engine: Engine, wrap: bool
) -> None:
    name = engine.prefix("window")
    engine.containers.run(testbed.images[0], ["sh", "-c", FAST_SCRIPT], name=name, detach=True)
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/hosts/{unix_host.pk}/containers/{name}/logs")
    viewer = page.get_by_role("region", name="Logs")
    lines = viewer.get_by_role("log", name="Log lines")
    viewer.get_by_label("Timestamps").uncheck()
    viewer.get_by_label("Keep lines").fill("2000")
    if wrap:
        viewer.get_by_label("Wrap lines").check()
    status = viewer.get_by_role("status").filter(has_text="lines shown")
    expect(status).to_contain_text("older lines dropped (window 2,000)", timeout=20_000)
    expect(status).to_contain_text("2,000 lines shown")

    # Following: the newest line is at the bottom of the pane.
    def newest_on_screen() -> int:
        return int(lines.evaluate(_LAST_VISIBLE))

    page.wait_for_timeout(300)
    assert int(lines.locator(".line").last.inner_text()) - newest_on_screen() < 200

    # Scrolled up, the lines in view stay where they are while old lines leave the window at the top (for
    # as long as they are in the window: ~1,950 lines from its start, more than arrive meanwhile).
    lines.hover()
    page.mouse.wheel(0, -400)
    expect(viewer.get_by_label("Follow")).not_to_be_checked()
    page.wait_for_timeout(300)
    held = lines.evaluate(_FIRST_VISIBLE)
    dropped = _dropped(status.inner_text())
    page.wait_for_timeout(1500)
    assert _dropped(status.inner_text()) > dropped + 300  # the window moved on meanwhile
    assert lines.evaluate(_FIRST_VISIBLE) == held
    screenshot(page, f"logs-held-{'wrapped' if wrap else 'unwrapped'}")

    # Back to the newest lines.
    viewer.get_by_role("button", name="Jump to newest").click()
    expect(viewer.get_by_label("Follow")).to_be_checked()
    page.wait_for_timeout(500)
    assert int(lines.locator(".line").last.inner_text()) - newest_on_screen() < 200


# The text and offset (from the pane's top) of the first / last row wholly inside the pane.
_FIRST_VISIBLE = """(pane) => {
  const top = pane.getBoundingClientRect().top;
  const row = [...pane.querySelectorAll(".line")].find((el) => el.getBoundingClientRect().top >= top);
  return row ? [row.textContent, Math.round(row.getBoundingClientRect().top - top)] : null;
}"""
_LAST_VISIBLE = """(pane) => {
  const bottom = pane.getBoundingClientRect().bottom;
  const rows = [...pane.querySelectorAll(".line")]
    .filter((el) => el.getBoundingClientRect().bottom <= bottom);
  return rows.length ? rows[rows.length - 1].textContent : "-1";
}"""


def _dropped(status: str) -> int:
    match = re.search(r"([\d,]+) older lines dropped", status)
    return int(match.group(1).replace(",", "")) if match else 0
