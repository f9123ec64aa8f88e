"""Fixtures of the dashboard tests: the built app, a live ASGI server (uvicorn: HTTP and websockets) on the
test database, and Chromium driven by Playwright.

Without Node.js, a build or Chromium these tests skip with the reason, except under
DOCKERWEB_REQUIRE_ENGINE=1 (CI), where a missing piece fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import REQUIRE_ENGINE, worker_database_url
from tests.frontend.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.testbed import Testbed

FRONTEND = Path(settings.BASE_DIR) / "frontend"
DIST_INDEX = FRONTEND / "dist" / "index.html"
ARTIFACTS = Path(
    os.environ.get("DOCKERWEB_E2E_ARTIFACTS", str(Path(settings.BASE_DIR) / "var" / "e2e-artifacts"))
)


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail when CI requires the whole suite to run."""
    if REQUIRE_ENGINE:
        pytest.fail(f"DOCKERWEB_REQUIRE_ENGINE=1 but the dashboard tests cannot run: {reason}")
    pytest.skip(reason)


def _sources_newer_than_build() -> bool:
    built = DIST_INDEX.stat().st_mtime
    sources = [FRONTEND / name for name in ("package-lock.json", "index.html", "vite.config.ts")]
    sources += list((FRONTEND / "src").rglob("*"))
    return any(path.is_file() and path.stat().st_mtime > built for path in sources)


@pytest.fixture(scope="session")
def frontend_build() -> Path:
    """frontend/dist, built now if it is missing or older than the sources (`make test` builds it first)."""
    if DIST_INDEX.exists() and not _sources_newer_than_build():
        return DIST_INDEX.parent
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        unavailable("the dashboard is not built and Node.js/npm are not installed (make test builds it)")
    assert npm is not None
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True, capture_output=True)
    result = subprocess.run([npm, "run", "build"], cwd=FRONTEND, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"the dashboard build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return DIST_INDEX.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def live_server_url(
    frontend_build: Path,
    django_db_setup: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """uvicorn serving `dockerweb.asgi` (with every websocket route) on the test database."""
    with django_db_blocker.unblock():
        database_url = worker_database_url()
    for stale in ARTIFACTS.glob("FAILED-*.png"):
        stale.unlink()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("uvicorn") / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "dockerweb.settings"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "dockerweb.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--lifespan", "off", "--no-access-log"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the test server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/auth/session/", timeout=2):  # noqa: S310 (loopback)
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the test server did not answer in 30 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(live_server_url: str) -> Iterator[Any]:
    """Headless Chromium (Debian's package; Playwright never downloads a browser here).

    Playwright's sync API keeps an event loop in this thread, which Django takes for an async context: the
    tests' own ORM calls (and the database fixtures) are still plain sync code, so its check is relaxed
    while the browser is open.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (requirements-dev.lock)")
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (Debian package chromium)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context at 1280x800 on the live server; browser errors fail the test."""
    context = browser.new_context(base_url=live_server_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        errors.append(f"unexpected dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def remove_container(testbed: Testbed, name: str) -> None:
    """Remove a container a browser test made on engine1, if it is still there."""
    import docker
    import docker.errors

    client = docker.DockerClient(base_url=testbed.engine1.unix_url)
    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    finally:
        client.close()


def screenshot(page: Any, name: str) -> None:
    """A screenshot a person can look at, in the artifacts folder (var/e2e-artifacts by default)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()
