"""Playwright's `expect` for the browser tests. Without the package a test module importing this is skipped
with the reason, except under DOCKERWEB_REQUIRE_ENGINE=1 (CI), where the import error fails it."""

from __future__ import annotations

import pytest

from tests.conftest import REQUIRE_ENGINE

try:
    from playwright.sync_api import expect
except ImportError:
    if REQUIRE_ENGINE:
        raise
    pytest.skip("the Python package playwright is not installed (requirements-dev)", allow_module_level=True)

__all__ = ["expect"]
