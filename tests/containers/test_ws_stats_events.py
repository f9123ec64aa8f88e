"""Stats and engine events over websockets against real engines, and an engine outage in the middle of
log and event streams (over TLS)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from containers.streams import hub
from hosts.models import Host, Role
from tests.containers.test_ws_support import (
    Docker,
    collect,
    connect,
    engine,
    has_text,
    owned_by,
    run,
    texts,
    token_for,
    user_with_role,
)
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db(transaction=True)

STATS_KEYS = {
    "type", "container", "cpu_percent", "mem_usage", "mem_limit", "mem_percent", "net_rx", "net_tx",
    "blk_read", "blk_write", "pids", "ts", "net_rx_rate", "net_tx_rate", "blk_read_rate", "blk_write_rate",
}  # fmt: skip


def test_stats_come_once_a_second_from_one_shared_engine_stream(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    # A busy loop capped at a fifth of a CPU: a plausible, non-zero CPU share.
    busy = docker1.run("while :; do :; done", nano_cpus=200_000_000, mem_limit="64m")
    token = token_for(alice)
    path = f"/ws/hosts/{unix_host.pk}/containers/{busy.name}/stats/"

    async def scenario() -> None:
        first, second = await connect(path, token), await connect(path, token)
        host_totals = await connect(f"/ws/hosts/{unix_host.pk}/stats/", token)
        for viewer in (first, second):
            await collect(viewer, lambda m: m["type"] == "ready")
        assert hub().count("stats") == 1

        frames = await collect(first, lambda m: m["type"] == "stats" and m["cpu_percent"] > 1, timeout=6)
        frame = frames[-1]
        assert set(frame) == STATS_KEYS and frame["container"] == busy.name
        assert 1 < frame["cpu_percent"] < 60
        assert frame["mem_limit"] == 64 * 1024 * 1024 and 0 < frame["mem_usage"] < frame["mem_limit"]
        assert 0 < frame["mem_percent"] < 100 and frame["pids"] >= 1 and frame["ts"].endswith("Z")
        await collect(second, lambda m: m["type"] == "stats", timeout=3)

        totals = await collect(host_totals, lambda m: m["type"] == "host_stats" and m["cpu_percent"] > 1)
        assert totals[-1]["containers"] >= 1 and totals[-1]["mem_usage"] > 0

        await asyncio.to_thread(busy.kill)
        stopped = await collect(first, lambda m: m["type"] == "status")
        assert stopped[-1]["state"] == "exited" and busy.name in stopped[-1]["message"]
        for viewer in (first, second, host_totals):
            await viewer.disconnect()
        assert hub().count("stats") == 0  # nobody watches: the engine stream is closed

    run(scenario)


def test_events_reach_the_viewers_who_may_see_their_objects(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    vera = user_with_role("vera", unix_host, Role.VIEWER)
    tokens = {"alice": token_for(alice), "vera": token_for(vera)}
    path = f"/ws/events/?hosts={unix_host.pk}"

    async def scenario() -> None:
        admin, viewer = await connect(path, tokens["alice"]), await connect(path, tokens["vera"])
        for ws in (admin, viewer):
            ready = await collect(ws, lambda m: m["type"] == "ready")
            assert ready[-1]["hosts"] == [{"id": unix_host.pk, "name": unix_host.name}]
            up = await collect(ws, lambda m: m["type"] == "host")
            assert up[-1]["state"] == "up" and up[-1]["host"]["id"] == unix_host.pk
        others = await asyncio.to_thread(docker1.run, "sleep 60", labels=owned_by("carol", "red"))
        hers = await asyncio.to_thread(docker1.run, "sleep 60", labels=owned_by("vera"))

        def started(name: str) -> Callable[[dict[str, Any]], bool]:
            return lambda m: (
                m["type"] == "event"
                and m["event"]["Action"] == "start"
                and m["event"]["Actor"]["Attributes"].get("name") == name
            )

        seen = await collect(admin, started(hers.name))
        names = {m["event"]["Actor"]["Attributes"].get("name") for m in seen if m["type"] == "event"}
        assert {others.name, hers.name} <= names
        assert all(m["host"] == {"id": unix_host.pk, "name": unix_host.name} for m in seen)
        # Events arrive in order: had vera been allowed to see the other container, it would come first.
        seen = await collect(viewer, started(hers.name))
        names = {m["event"]["Actor"]["Attributes"].get("name") for m in seen if m["type"] == "event"}
        assert names == {hers.name}
        actions = [m["event"]["Action"] for m in seen if m["type"] == "event"]
        assert actions[0] == "create" and actions[-1] == "start"
        await admin.disconnect()
        await viewer.disconnect()
        assert hub().count("events") == 0

    run(scenario)


def test_an_engine_outage_is_reported_and_followed(tls_host: Host, alice: User, testbed: Testbed) -> None:
    token = token_for(alice)

    async def scenario() -> None:
        with engine(testbed.engine2.unix_url) as docker2:
            container = await asyncio.to_thread(
                # `sh` as PID 1 ignores SIGTERM: the trap lets the engine stop it at once.
                docker2.run,
                "trap 'exit 0' TERM; echo boot; sleep 600 & wait",
                restart_policy={"Name": "always"},
            )
            logs = await connect(f"/ws/hosts/{tls_host.pk}/containers/{container.name}/logs/?tail=all", token)
            events = await connect(f"/ws/events/?hosts={tls_host.pk}", token)
            await collect(logs, has_text("boot"))
            await collect(events, lambda m: m["type"] == "host" and m["state"] == "up")

            await asyncio.to_thread(testbed.engine2.stop)
            try:
                down = await collect(
                    logs, lambda m: m["type"] == "status" and m["state"] == "host_unreachable"
                )
                assert tls_host.name in down[-1]["message"]
                await collect(events, lambda m: m["type"] == "host" and m["state"] == "down")
            finally:  # the next tests need the engine, whatever happened here
                await asyncio.to_thread(testbed.engine2.start)
            back = await collect(logs, has_text("boot"), timeout=30)  # the restart policy started it again
            assert texts(back) == ["boot"]
            assert any(m["type"] == "status" and m["state"] in ("running", "restarted") for m in back)
            await collect(events, lambda m: m["type"] == "host" and m["state"] == "up", timeout=30)
            await logs.disconnect()
            await events.disconnect()

    run(scenario)
