"""Snapshots refreshed by a real Celery worker; one dead host never holds up the healthy ones."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from hosts.models import Host
from hosts.tasks import refresh_all_hosts
from tests.conftest import wait_until
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_the_worker_refreshes_every_host_and_a_silent_one_does_not_delay_the_others(
    testbed: Testbed, alice: User, celery_worker: None, silent_listener: int, settings: object
) -> None:
    healthy = [
        Host.objects.create(name="e1", url=testbed.engine1.unix_url),
        Host.objects.create(name="e2", url=testbed.engine2.unix_url),
    ]
    silent = Host.objects.create(name="silent", url=f"tcp://127.0.0.1:{silent_listener}")
    closed = Host.objects.create(name="closed", url="tcp://127.0.0.1:1")

    started = time.monotonic()
    assert refresh_all_hosts.delay() is not None

    def healthy_up() -> bool:
        return all(Host.objects.get(pk=h.pk).status == "up" for h in healthy)

    assert wait_until(healthy_up, timeout=8)
    healthy_done = time.monotonic() - started
    assert healthy_done < 8, "healthy hosts must not wait for the silent one's 10 s read timeout"
    assert Host.objects.get(pk=closed.pk).status == "down"
    assert "refused" in Host.objects.get(pk=closed.pk).status_error

    assert wait_until(lambda: Host.objects.get(pk=silent.pk).status == "down", timeout=20)
    assert "did not answer within 10s" in Host.objects.get(pk=silent.pk).status_error
