"""Fan-out: viewers of one container share one engine stream; a slow viewer is bounded, not waited for."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth.models import User

from containers.streams import fanout, hub
from containers.streams.logs import LogStream
from hosts.models import Host
from tests.containers.test_ws_support import (
    WAIT_FOR_GO,
    Docker,
    collect,
    connect,
    has_text,
    run,
    texts,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_viewers_with_the_same_options_share_one_engine_stream(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run("seq 1 5; " + WAIT_FOR_GO + "echo live; sleep 60")
    token = token_for(alice)
    path = f"/ws/hosts/{unix_host.pk}/containers/{container.name}/logs/?tail=3"

    async def scenario() -> None:
        first = await connect(path, token)
        assert texts(await collect(first, has_text("5"))) == ["3", "4", "5"]
        second = await connect(path, token)
        # The second viewer joins the running stream and is replayed its tail, without asking the engine.
        assert texts(await collect(second, has_text("5"))) == ["3", "4", "5"]
        other_options = await connect(path.replace("tail=3", "tail=1"), token)
        assert texts(await collect(other_options, has_text("5"))) == ["5"]

        streams = hub().find("logs")
        assert hub().count("logs") == 2
        shared = next(s for s in streams if isinstance(s, LogStream) and s.options.tail == "3")
        assert isinstance(shared, LogStream) and len(shared.subscribers) == 2
        requests = shared.engine_requests  # history, then follow: 2

        await docker1.ago(container)
        for viewer in (first, second, other_options):
            assert texts(await collect(viewer, has_text("live"))) == ["live"]
        assert shared.engine_requests == requests

        await other_options.disconnect()
        assert hub().count("logs") == 1
        await first.disconnect()
        assert hub().count("logs") == 1 and len(shared.subscribers) == 1
        await second.disconnect()
        assert hub().count("logs") == 0  # the last viewer out closes the engine stream
        assert shared.task is not None and shared.task.done()

    run(scenario)


def test_a_slow_viewer_skips_lines_while_a_fast_one_gets_every_line(
    unix_host: Host, alice: User, docker1: Docker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "VIEWER_MAX_ITEMS", 200)
    # 500 lines in bursts of 50 every 0.1 s: a viewer that keeps reading never has more than ~100 queued.
    bursts = "for i in $(seq 0 9); do seq $((i * 50 + 1)) $((i * 50 + 50)); sleep 0.1; done; "
    container = docker1.run(WAIT_FOR_GO + bursts + "sleep 60")
    token = token_for(alice)
    path = f"/ws/hosts/{unix_host.pk}/containers/{container.name}/logs/?tail=0"

    async def scenario() -> None:
        fast, slow = await connect(path, token), await connect(path, token)
        for viewer in (fast, slow):
            await collect(viewer, lambda m: m["type"] == "ready")
        # A paused viewer is the slowest one there is: it reads nothing at all.
        await slow.send_json_to({"type": "pause"})
        await collect(slow, lambda m: m["type"] == "paused")
        await asyncio.sleep(0.2)
        await docker1.ago(container)

        received = texts(await collect(fast, has_text("500")))
        assert received == [str(i) for i in range(1, 501)]
        assert await slow.receive_nothing(timeout=0.3)

        await slow.send_json_to({"type": "resume"})
        messages = await collect(slow, lambda m: m["type"] == "skipped")
        assert texts(messages) == [str(i) for i in range(1, 201)]  # what fitted in its buffer, in order
        assert messages[-1]["count"] == 300
        await fast.disconnect()
        await slow.disconnect()

    run(scenario)
