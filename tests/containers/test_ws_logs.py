"""Log viewers over websockets against a real engine: history and follow, streams, TTY, filters, pause,
batching, merged logs, restarts."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth.models import User

from containers.streams import hub
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


def logs_path(host: Host, container: str, query: str = "") -> str:
    return f"/ws/hosts/{host.pk}/containers/{container}/logs/?{query}"


def test_it_sends_the_history_then_follows_with_stdout_and_stderr_apart(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run(
        # stdout and stderr are timestamped by two readers: a pause keeps their order unambiguous.
        "echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; "
        + WAIT_FOR_GO
        + "echo four; sleep 0.05; echo five >&2; sleep 60"
    )
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=all"), token)
        ready = await collect(ws, lambda m: m["type"] == "ready")
        assert ready[-1]["containers"][0]["name"] == container.name and not ready[-1]["containers"][0]["tty"]
        history = await collect(ws, has_text("three"))
        await docker1.ago(container)
        live = await collect(ws, has_text("five"))
        lines = [line for m in history + live if m["type"] == "lines" for line in m["lines"]]
        assert [line["text"] for line in lines] == ["one", "two", "three", "four", "five"]
        assert [line["stream"] for line in lines] == ["stdout", "stderr", "stdout", "stdout", "stderr"]
        assert all(line["container"] == container.name and line["ts"].endswith("Z") for line in lines)
        await ws.disconnect()

    run(scenario)


def test_a_tty_container_is_read_raw(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("echo first; sleep 0.05; echo second >&2; printf 'no newline'", tty=True)
    token = token_for(alice)

    async def scenario() -> None:
        await asyncio.to_thread(container.wait, timeout=10)  # the engine logs a line without newline at exit
        ws = await connect(logs_path(unix_host, container.name, "tail=10"), token)
        messages = await collect(ws, lambda m: m["type"] == "status")
        assert messages[0]["containers"][0]["tty"] is True
        lines = [line for m in messages if m["type"] == "lines" for line in m["lines"]]
        # A terminal has one stream; its carriage returns are not part of the text.
        assert [(line["stream"], line["text"]) for line in lines] == [
            ("stdout", "first"),
            ("stdout", "second"),
            ("stdout", "no newline"),
        ]
        assert messages[-1]["state"] == "exited" and messages[-1]["exit_code"] == 0
        await ws.disconnect()

    run(scenario)


def test_lines_go_out_in_batches(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run(WAIT_FOR_GO + "seq 1 2000; sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=0"), token)
        await collect(ws, lambda m: m["type"] == "ready")
        await asyncio.sleep(0.2)  # the engine stream is open
        await docker1.ago(container)
        messages = await collect(ws, has_text("2000"))
        batches = [m for m in messages if m["type"] == "lines"]
        assert texts(batches) == [str(i) for i in range(1, 2001)]
        assert len(batches) < 2000 / 50, f"{len(batches)} messages for 2000 lines"
        await ws.disconnect()

    run(scenario)


def test_the_filter_applies_on_the_server_and_changes_without_reconnecting(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run(
        "echo 'INFO start'; echo 'error: disk' >&2; sleep 0.05; echo 'ERROR net'; "
        + WAIT_FOR_GO
        + "echo 'info late'; echo 'warn late'; sleep 60"
    )
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=all&filter=error&stream=all"), token)
        first = await collect(ws, has_text("ERROR net"))
        assert texts(first) == ["error: disk", "ERROR net"]  # case-insensitive by default
        await ws.send_json_to({"type": "filter", "filter": "^(info|warn) late$", "regex": True, "case": True})
        ack = await collect(ws, lambda m: m["type"] == "filter")
        assert ack[-1]["regex"] is True and ack[-1]["case"] is True
        await docker1.ago(container)
        later = await collect(ws, has_text("warn late"))
        assert texts(later) == ["info late", "warn late"]
        await ws.send_json_to({"type": "filter", "filter": "(a+)+$", "regex": True})
        refused = await collect(ws, lambda m: m["type"] == "error")
        assert "repeats a repetition" in refused[-1]["message"]
        await ws.disconnect()

    run(scenario)


def test_stream_parameter_keeps_only_stderr(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("echo out; echo err >&2; echo out2; echo err2 >&2; sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=all&stream=stderr"), token)
        messages = await collect(ws, has_text("err2"))
        assert texts(messages) == ["err", "err2"]
        await ws.disconnect()

    run(scenario)


def test_pause_holds_lines_until_resume(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run(WAIT_FOR_GO + "echo a; echo b; sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=0"), token)
        await collect(ws, lambda m: m["type"] == "ready")
        await ws.send_json_to({"type": "pause"})
        await collect(ws, lambda m: m["type"] == "paused")
        await docker1.ago(container)
        assert await ws.receive_nothing(timeout=0.6)
        await ws.send_json_to({"type": "resume"})
        messages = await collect(ws, has_text("b"))
        assert messages[0]["type"] == "resumed" and texts(messages) == ["a", "b"]
        await ws.disconnect()

    run(scenario)


def test_merged_logs_of_two_containers_come_in_time_order(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    group = {"dwtest.group": docker1.tag}
    go_again = "while [ ! -e /go2 ]; do sleep 0.05; done; "
    first = docker1.run(
        WAIT_FOR_GO + "echo a1; sleep 1; echo a2; " + go_again + "echo a3; sleep 0.8; echo a4; sleep 60",
        labels=group,
    )
    second = docker1.run(
        WAIT_FOR_GO + "sleep 0.5; echo b1; " + go_again + "sleep 0.4; echo b2; sleep 60", labels=group
    )
    token = token_for(alice)

    def release(flag: str) -> None:
        for container in (first, second):
            container.exec_run(["touch", flag])

    async def scenario() -> None:
        await asyncio.to_thread(release, "/go")
        await asyncio.sleep(1.3)  # all of it is history now: the order must come from the timestamps
        path = f"/ws/hosts/{unix_host.pk}/logs/?label=dwtest.group={docker1.tag}&tail=all"
        ws = await connect(path, token)
        ready = await collect(ws, lambda m: m["type"] == "ready")
        assert {c["name"] for c in ready[-1]["containers"]} == {first.name, second.name}
        history = await collect(ws, has_text("a2"))
        assert texts(history) == ["a1", "b1", "a2"]
        await asyncio.to_thread(release, "/go2")
        live = await collect(ws, has_text("a4"))
        assert texts(live) == ["a3", "b2", "a4"]
        lines = [line for m in history + live if m["type"] == "lines" for line in m["lines"]]
        assert [line["container"] for line in lines][:2] == [first.name, second.name]
        assert [line["ts"] for line in lines] == sorted(line["ts"] for line in lines)
        await ws.disconnect()

        by_name = f"/ws/hosts/{unix_host.pk}/logs/?containers={second.name},{first.name}&tail=1&follow=0"
        ws = await connect(by_name, token)
        messages = await collect(ws, lambda m: m["type"] == "end")
        assert texts(messages) == ["b2", "a4"]
        await ws.disconnect()

    run(scenario)


def test_a_restart_is_reported_and_followed(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("echo started; sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        ws = await connect(logs_path(unix_host, container.name, "tail=all"), token)
        await collect(ws, has_text("started"))
        await asyncio.to_thread(container.restart, timeout=0)
        messages = await collect(ws, has_text("started"))
        statuses = [m for m in messages if m["type"] == "status"]
        assert statuses and statuses[0]["container"] == container.name
        assert statuses[-1]["state"] in ("restarted", "running")
        assert texts(messages) == ["started"]  # the new run's line, not the old one again
        await asyncio.to_thread(container.stop, timeout=0)
        stopped = await collect(ws, lambda m: m["type"] == "status" and m["state"] == "exited")
        assert "exited" in stopped[-1]["message"]
        await asyncio.to_thread(container.remove)
        await collect(ws, lambda m: m["type"] == "status" and m["state"] == "removed")
        await collect(ws, lambda m: m["type"] == "end")
        await ws.disconnect()
        assert hub().count("logs") == 0

    run(scenario)


def test_without_follow_the_history_ends_the_stream(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("seq 1 5; sleep 60")
    token = token_for(alice)

    async def scenario() -> None:
        await asyncio.sleep(0.3)
        ws = await connect(logs_path(unix_host, container.name, "tail=3&follow=0"), token)
        messages = await collect(ws, lambda m: m["type"] == "end")
        assert texts(messages) == ["3", "4", "5"]
        await ws.disconnect()

    run(scenario)
