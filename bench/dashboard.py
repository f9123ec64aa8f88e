"""Benchmark: the dashboard in a real browser (Chromium via Playwright) against the live server and engines.

Everything is real: the testbed's two engines (engine1 on its unix socket, engine2 over TCP + mutual TLS), a
private Redis, a temp SQLite database, uvicorn serving the ASGI application and the built dashboard as
`make run` does, and Debian's Chromium (headless, `--enable-precise-memory-info`). Prints, from one run:

1. The log viewer receiving 1,000,000 lines at full speed: a container prints 10,000 lines while the viewer
   follows it through the logs websocket, then 990,000 more as fast as `seq` writes them. The JS heap
   (`performance.memory.usedJSHeapSize`, which counts ArrayBuffer contents too, after a forced GC: CDP
   `HeapProfiler.collectGarbage`) after 1M lines against after 10k lines (goal: under 2x: the viewer keeps a
   bounded window of lines, 100,000 by default), and once more in passing at ~300k lines (flat from there).
   And whether the page still responds while the lines stream: a real click (CDP input) on the "Wrap lines"
   toggle every 200 ms; per click its input delay (input timestamp to the listener) and, from the Event
   Timing API, the time from the input to the next frame painted after the handlers (goal: under 100 ms;
   p50, p90, max); the main thread's long tasks. The same clicks with no lines arriving, for comparison.
2. The containers page with 500 containers (250 on each engine, created, not started) against 20: the time
   from navigation to the first painted row of the table, median of several loads (goal: under 2x), split
   into the list request (`GET /api/v1/containers/`, resource timing) and the render after it.

The machine may be shared (the load average is printed): the click latencies' tail moves with it.

Run: `.venv/bin/python bench/dashboard.py [logs] [table]` (root, with the test packages installed; no
argument runs both). The dashboard is built first when frontend/dist is missing or stale.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path; the project root belongs there instead.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402 (after the path fix above)
    IMAGE,
    Setup,
    create_containers,
    environment,
    parts_of,
    percentile,
    remove_containers,
    setup_database,
    uptime,
)
from tests.frontend.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PREFIX = "dwbench-ui-"  # every container this benchmark creates; removed at the end whatever happens
PASSWORD = "bench-password-1"
BROWSER_ARGS = [*CHROMIUM_ARGS, "--enable-precise-memory-info"]  # the tests' flags; exact JS heap sizes

FIRST_LINES = 10_000
MIDDLE_LINES = 300_000  # the heap is also taken here, in passing: from here to the end it should stay flat
ALL_LINES = 1_000_000
CLICK_EVERY = 0.2  # seconds between clicks while the lines stream
IDLE_CLICKS = 15
STREAM_TIMEOUT = 300.0

SMALL, LARGE = 20, 500  # containers in the table, half on each engine
TABLE_RUNS = 7

# The container waits for the viewer before each phase: /go1 → 10k lines, /go2 → the rest.
LOG_SCRIPT = (
    "while [ ! -e /go1 ]; do sleep 0.05; done; "
    f"seq 1 {FIRST_LINES}; "
    "while [ ! -e /go2 ]; do sleep 0.05; done; "
    f"seq {FIRST_LINES + 1} {ALL_LINES}; "
    "sleep 3600"
)


# The built dashboard


def ensure_frontend_build() -> None:
    """frontend/dist as `make frontend` leaves it: built now when missing or older than its sources."""
    frontend = ROOT / "frontend"
    index = frontend / "dist" / "index.html"
    sources = [frontend / n for n in ("package.json", "package-lock.json", "index.html", "vite.config.ts")]
    sources += [path for path in (frontend / "src").rglob("*") if path.is_file()]
    if index.exists() and all(path.stat().st_mtime <= index.stat().st_mtime for path in sources):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("the dashboard is not built and npm is not installed (make frontend)")
    if not (frontend / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=frontend, check=True)
    subprocess.run([npm, "run", "build"], cwd=frontend, check=True, stdout=subprocess.DEVNULL)


# The browser


@contextlib.contextmanager
def browser_page(base_url: str) -> Iterator[Any]:
    """A logged-in page at 1280x800 in headless Chromium; page errors end the run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
            context.set_default_timeout(60_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/login")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("button", name="Log out").wait_for()
            yield page
            if errors:
                raise SystemExit(f"errors in the page: {errors[:5]}")
        finally:
            browser.close()


def heap_mb(page: Any, cdp: Any) -> float:
    """The JS heap in use after a full GC (twice: the first one may leave finalizer garbage)."""
    for _ in range(2):
        cdp.send("HeapProfiler.collectGarbage")
    return float(page.evaluate("performance.memory.usedJSHeapSize")) / 1e6


# 1. The log viewer

STATUS_RE = re.compile(r"([\d,]+) lines shown(?:, ([\d,]+) older lines dropped)?")
SKIPPED_RE = re.compile(r"([\d,]+) lines skipped by the server")

# In the page, for each trusted click on the wrap toggle: its input delay (the input event's timestamp to the
# start of the first click listener) and, from the Event Timing API, its duration from the input to the next
# frame painted after the handlers (the figure INP is made of; reported when 16 ms or more); the long tasks.
PROBE = """
(box) => {
  const probe = { clicks: [], timings: [], longtasks: [], phase: "stream" };
  window.__probe = probe;
  box.addEventListener("click", (e) => {
    if (!e.isTrusted) return;
    probe.clicks.push({ t0: e.timeStamp, delay: performance.now() - e.timeStamp, phase: probe.phase });
  }, true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) probe.longtasks.push({ ms: entry.duration, phase: probe.phase });
  }).observe({ type: "longtask" });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.name !== "click") continue;
      probe.timings.push({ at: entry.startTime, ms: entry.duration,
                           handlers: entry.processingEnd - entry.processingStart,
                           after: entry.startTime + entry.duration - entry.processingEnd });
    }
  }).observe({ type: "event", durationThreshold: 16 });
}
"""


@dataclass
class Clicks:
    delay: list[float]  # input delay, ms
    paint: list[float]  # input to next paint, ms (16 when the Event Timing API reported nothing: under 16)
    slowest: dict[str, float] | None  # the Event Timing entry of the slowest click

    def describe(self) -> str:
        over = sum(ms >= 100 for ms in self.paint)
        slowest = self.slowest
        if slowest and slowest["ms"] >= 50:
            waited = slowest["ms"] - slowest["handlers"] - slowest["after"]
            detail = (
                f"; the slowest: {waited:.0f} ms to its handlers, {slowest['handlers']:.0f} ms in them, "
                f"{slowest['after']:.0f} ms to the paint"
            )
        else:
            detail = ""
        return (
            f"input delay p50 {percentile(self.delay, 0.5):.0f} ms, max {max(self.delay, default=0):.0f} ms; "
            f"click to next paint p50 {percentile(self.paint, 0.5):.0f} ms, "
            f"p90 {percentile(self.paint, 0.9):.0f} ms, max {max(self.paint, default=0):.0f} ms "
            f"({over} of {len(self.paint)} at 100 ms or more){detail}"
        )


def clicks_of(probe: dict[str, Any], phase: str) -> Clicks:
    clicks = [c for c in probe["clicks"] if c["phase"] == phase]
    paint, slowest = [], None
    for click in clicks:
        match = [t for t in probe["timings"] if abs(t["at"] - click["t0"]) < 1.0]
        paint.append(max((t["ms"] for t in match), default=16.0))
        for timing in match:
            if slowest is None or timing["ms"] > slowest["ms"]:
                slowest = timing
    return Clicks([c["delay"] for c in clicks], paint, slowest)


def viewer_lines(page: Any) -> tuple[int, int]:
    """(lines kept, lines received) as the viewer's status line says."""
    text = page.get_by_role("status").filter(has_text="lines shown").first.inner_text()
    match = STATUS_RE.search(text)
    if not match:
        raise SystemExit(f"unexpected status line: {text!r}")
    kept = int(match.group(1).replace(",", ""))
    dropped = int((match.group(2) or "0").replace(",", ""))
    return kept, kept + dropped


def server_skipped(page: Any) -> int:
    """Lines the server dropped because the viewer fell behind (the viewer's status line counts them)."""
    text = page.get_by_role("status").filter(has_text="lines shown").first.inner_text()
    match = SKIPPED_RE.search(text)
    return int(match.group(1).replace(",", "")) if match else 0


def wait_lines(page: Any, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        received = viewer_lines(page)[1]
        if received >= at_least:
            return received
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the viewer has {received:,} lines after {timeout:.0f} s, expected {at_least:,}"
            )
        time.sleep(0.1)


def last_line_seen(page: Any, text: str) -> bool:
    return bool(
        page.evaluate(
            """(text) => [...document.querySelectorAll('[role="log"] .line')]
                 .map((el) => el.textContent.trim())
                 .some((line) => line === text || line.endsWith(" " + text))""",
            text,
        )
    )


def bench_logs(page: Any, setup: Setup, engine1: Any) -> list[str]:
    name = f"{PREFIX}logs"
    container = engine1.containers.run(IMAGE, ["sh", "-c", LOG_SCRIPT], name=name, detach=True)
    try:
        page.goto(f"/hosts/{setup.host1}/containers/{name}/logs")
        page.get_by_role("status").filter(has_text="Streaming").wait_for()
        cdp = page.context.new_cdp_session(page)
        empty = heap_mb(page, cdp)

        container.exec_run(["touch", "/go1"])
        wait_lines(page, FIRST_LINES, 60)
        page.wait_for_timeout(500)
        first = heap_mb(page, cdp)
        kept_first = viewer_lines(page)[0]

        wrap = page.get_by_label("Wrap lines")
        wrap.evaluate(PROBE)
        box = wrap.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        started = time.perf_counter()
        container.exec_run(["touch", "/go2"])
        deadline = time.monotonic() + STREAM_TIMEOUT
        received = FIRST_LINES
        middle: tuple[int, float] | None = None
        while not last_line_seen(page, str(ALL_LINES)):
            if middle is None and received >= MIDDLE_LINES:  # the window has been full for a while
                middle = (received, heap_mb(page, cdp))
                time.sleep(0.5)  # no click right behind the forced GC
                continue
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the last line did not arrive in {STREAM_TIMEOUT:.0f} s ({received:,} lines)"
                )
            page.mouse.click(x, y)
            time.sleep(CLICK_EVERY)
            received = viewer_lines(page)[1]
        streamed = time.perf_counter() - started
        page.evaluate("window.__probe.phase = 'after'")
        page.wait_for_timeout(1000)
        kept, received = viewer_lines(page)
        skipped = server_skipped(page)

        page.evaluate("window.__probe.phase = 'idle'")
        for _ in range(IDLE_CLICKS):  # the same clicks with nothing arriving
            page.mouse.click(x, y)
            time.sleep(CLICK_EVERY)
        page.wait_for_timeout(500)
        probe = page.evaluate("window.__probe")
        last = heap_mb(page, cdp)
        cdp.detach()
    finally:
        container.remove(force=True)

    ratio = last / first
    during, idle = clicks_of(probe, "stream"), clicks_of(probe, "idle")
    worst = max(during.paint, default=float("inf"))
    tasks = [t["ms"] for t in probe["longtasks"] if t["phase"] == "stream"]
    out = [
        f"1. Log viewer, {ALL_LINES:,} lines at full speed through the logs websocket "
        f"(container page, Logs tab, follow on, default settings)",
        f"   JS heap after GC: viewer open with no lines {empty:6.1f} MB | after {FIRST_LINES:,} lines "
        f"{first:6.1f} MB ({kept_first:,} kept) | after {ALL_LINES:,} lines {last:6.1f} MB ({kept:,} kept)",
        f"   heap after 1M / after 10k = {ratio:.2f}x: goal under 2x {'met' if ratio < 2 else 'MISSED'}; "
        f"~{(last - first) * 1e6 / max(1, kept - kept_first):.0f} bytes per kept line; "
        + (
            f"after 1M / after {middle[0]:,} (window full since 100k) = {last / middle[1]:.2f}x"
            if middle
            else "(no sample in the middle)"
        ),
        f"   {received - FIRST_LINES:,} lines arrived in {streamed:.1f} s "
        f"({(received - FIRST_LINES) / streamed:,.0f} lines/s into the page); "
        f"lines the server skipped for a slow viewer: {skipped:,}",
        f"   a click on 'Wrap lines' every {CLICK_EVERY * 1000:.0f} ms while the lines stream "
        f"({len(during.paint)} clicks): {during.describe()}: goal under 100 ms "
        + (
            "met"
            if worst < 100
            else "met at p50, MISSED at max"
            if percentile(during.paint, 0.5) < 100
            else "MISSED"
        ),
        f"   the same with no lines arriving ({len(idle.paint)} clicks): {idle.describe()}",
        f"   main thread while streaming: {len(tasks)} long tasks (over 50 ms), "
        f"max {max(tasks, default=0):.0f} ms, {sum(tasks) / 1000:.1f} s in all",
    ]
    return out


# 2. The containers table

# Set before the app runs: when the first container row is in the DOM, and the frame after it.
FIRST_ROW = """
(() => {
  const row = () => document.querySelector('table[aria-label="Containers"] tbody th[scope="row"]');
  const observer = new MutationObserver(() => {
    if (window.__firstRow || !row()) return;
    window.__firstRow = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => (window.__painted = performance.now())));
  });
  observer.observe(document, { childList: true, subtree: true });
})();
"""


def table_load(page: Any, expected: int) -> dict[str, float]:
    page.goto("/containers")
    page.wait_for_function("window.__painted !== undefined", timeout=60_000)
    table = page.get_by_role("table", name="Containers")
    rows = int(table.get_attribute("aria-rowcount") or 0) - 1
    if rows != expected:
        raise SystemExit(f"the table has {rows} rows, expected {expected}")
    timing = page.evaluate(
        """() => {
          const list = performance.getEntriesByType("resource")
            .filter((e) => e.name.includes("/api/v1/containers/"));
          const last = list[list.length - 1];
          return { row: window.__firstRow, painted: window.__painted, start: last ? last.startTime : NaN,
                   end: last ? last.responseEnd : NaN };
        }"""
    )
    return {key: float(value) for key, value in timing.items()}


def bench_table(page: Any, clients: list[Any]) -> list[str]:
    page.add_init_script(FIRST_ROW)
    names = [[f"{PREFIX}list-{e}-{i:03d}" for i in range(LARGE // 2)] for e in (1, 2)]
    figures: dict[int, list[dict[str, float]]] = {}
    try:
        for total in (SMALL, LARGE):
            for client, host_names in zip(clients, names, strict=True):
                existing = len(client.api.containers(all=True, filters={"name": f"{PREFIX}list-"}))
                create_containers(client, host_names[existing : total // 2])
            table_load(page, total)  # warm-up: caches, the server's first list
            figures[total] = [table_load(page, total) for _ in range(TABLE_RUNS)]
    finally:
        for client, host_names in zip(clients, names, strict=True):
            remove_containers(client, host_names)

    def med(total: int, key: str) -> float:
        return statistics.median(f[key] for f in figures[total])

    out = [
        f"2. Containers page, time from navigation to the first painted table row, median of {TABLE_RUNS} "
        "loads (logged in, assets cached), ms"
    ]
    for total in (SMALL, LARGE):
        request = med(total, "end") - med(total, "start")
        render = statistics.median(f["painted"] - f["end"] for f in figures[total])
        out.append(
            f"   {total:3d} containers: first row painted {med(total, 'painted'):6.0f} (in the DOM "
            f"{med(total, 'row'):6.0f}) | list request {request:5.0f} | render after the response "
            f"{render:5.0f} | every load: {' '.join(format(f['painted'], '.0f') for f in figures[total])}"
        )
    ratio = med(LARGE, "painted") / med(SMALL, "painted")
    render_ratio = statistics.median(f["painted"] - f["end"] for f in figures[LARGE]) / statistics.median(
        f["painted"] - f["end"] for f in figures[SMALL]
    )
    out.append(
        f"   {LARGE} / {SMALL} containers = {ratio:.2f}x: goal under 2x {'met' if ratio < 2 else 'MISSED'} "
        f"(render after the response alone: {render_ratio:.2f}x)"
    )
    return out


# The run


def main(argv: list[str]) -> None:
    parts = parts_of(argv, ("logs", "table"))
    ensure_frontend_build()
    with environment("dashboard") as env:
        env.start_redis()
        setup = setup_database(env.bed, PASSWORD)
        clients = env.engine_clients(PREFIX)
        server, port = env.start_server()
        print(
            f"uvicorn pid {server.pid} on 127.0.0.1:{port}; Chromium {CHROMIUM}; data in {env.workdir}",
            flush=True,
        )
        with browser_page(f"http://127.0.0.1:{port}") as page:
            for part in parts:
                report = bench_logs(page, setup, clients[0]) if part == "logs" else bench_table(page, clients)
                print("\n".join(report), flush=True)
                print(f"   (machine now: {uptime()})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
