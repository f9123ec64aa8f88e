"""Debian's Chromium as the dashboard tests and bench/dashboard.py launch it (headless, through Playwright).

A module of its own, free of pytest and Django, so that the benchmark can import it outside the test run.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("DOCKERWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
