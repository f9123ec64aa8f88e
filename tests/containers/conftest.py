"""Fixtures of the containers tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers.test_ws_support import Docker, engine
from tests.testbed import Testbed


@pytest.fixture
def docker1(testbed: Testbed) -> Iterator[Docker]:
    """A small docker client of engine1 (unix socket), for setting up and checking containers."""
    with engine(testbed.engine1.unix_url) as d:
        yield d
