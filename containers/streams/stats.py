"""Shared stats streams: the engine's `stats?stream=1` (one frame a second) reduced the way `docker stats`
computes it, one engine stream per container and process, stopped when its last viewer leaves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, cast

import httpx

from containers.streams.engine import ContainerInfo, ContainerStream, engine_errors, stream_timeout
from containers.streams.fanout import Control, Subscriber, hub
from containers.streams.frames import timestamp_ns
from hosts.engine import EngineError, EngineTarget, async_client
from hosts.engine.errors import raise_for_status
from hosts.engine.request import EngineRequest

STATS_FIELDS = (
    "cpu_percent",
    "mem_usage",
    "mem_limit",
    "mem_percent",
    "net_rx",
    "net_tx",
    "blk_read",
    "blk_write",
    "pids",
)
RATE_FIELDS = {
    "net_rx": "net_rx_rate",
    "net_tx": "net_tx_rate",
    "blk_read": "blk_read_rate",
    "blk_write": "blk_write_rate",
}


def _cpu_percent(raw: dict[str, Any]) -> float:
    # docker/cli calculateCPUPercentUnix: the container's share of the host's CPU time, times the CPUs.
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    usage, pre_usage = cpu.get("cpu_usage") or {}, pre.get("cpu_usage") or {}
    cpu_delta = (usage.get("total_usage") or 0) - (pre_usage.get("total_usage") or 0)
    system_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    online = cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 1
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return cpu_delta / system_delta * online * 100.0


def _memory(raw: dict[str, Any]) -> tuple[int, int]:
    # docker/cli calculateMemUsageUnixNoCache: page cache that can be reclaimed is not "used".
    memory = raw.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats:
            if stats[key] < usage:
                usage -= int(stats[key])
            break
    return usage, int(memory.get("limit") or 0)


def _block_io(raw: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return read, write


def reduce_stats(raw: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One engine stats frame as a viewer gets it; None for the zero frames of a stopped container."""
    ts = str(raw.get("read") or "")
    if not ts or ts.startswith("0001-"):
        return None
    usage, limit = _memory(raw)
    networks = (raw.get("networks") or {}).values()
    blk_read, blk_write = _block_io(raw)
    frame: dict[str, Any] = {
        "cpu_percent": round(_cpu_percent(raw), 3),
        "mem_usage": usage,
        "mem_limit": limit,
        "mem_percent": round(usage / limit * 100.0, 3) if limit else 0.0,
        "net_rx": sum(int(n.get("rx_bytes") or 0) for n in networks),
        "net_tx": sum(int(n.get("tx_bytes") or 0) for n in networks),
        "blk_read": blk_read,
        "blk_write": blk_write,
        "pids": int((raw.get("pids_stats") or {}).get("current") or 0),
        "ts": ts,
    }
    seconds = 0.0
    if previous is not None:
        seconds = (timestamp_ns(ts) - timestamp_ns(previous["ts"])) / 1e9
    for total, rate in RATE_FIELDS.items():
        # Counters restart with the container: a negative delta is a restart, not a negative rate.
        delta = frame[total] - previous[total] if previous is not None else 0
        frame[rate] = round(delta / seconds, 1) if seconds > 0 and delta >= 0 else 0.0
    return frame


class StatsStream(ContainerStream):
    """The stats of one container, shared by all its viewers (and by host totals)."""

    kind = "stats"

    def __init__(self, key: Any, target: EngineTarget, container: ContainerInfo) -> None:
        super().__init__(key, target, container)
        self.latest: dict[str, Any] | None = None

    def on_attach(self, subscriber: Any) -> None:
        if self.latest is not None:
            subscriber.offer(self.latest)
        super().on_attach(subscriber)

    async def _read(self, client: httpx.AsyncClient) -> None:
        request = EngineRequest.build(
            "GET", "/containers/{container}/stats", self.container.id, query={"stream": 1}
        )
        with engine_errors(self.target):
            async with client.stream(
                request.method, request.target(), timeout=stream_timeout(30.0)
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise_for_status(response, self.target.name)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    frame = reduce_stats(json.loads(line), self.latest)
                    if frame is None:  # the engine sends zeros while the container is stopped
                        return
                    frame["container"] = self.container.name
                    self.latest = frame
                    self.offer(frame)

    async def run(self) -> None:
        async with async_client(self.target) as client:
            while True:
                started = time.monotonic()
                with contextlib.suppress(EngineError):  # wait_until_running reports it
                    await self._read(client)
                self.latest = None
                if await self.wait_until_running(client) is None:
                    break
                if time.monotonic() - started < 1.0:
                    await asyncio.sleep(1.0)
        self.control(Control("end", self.container.name))


def subscribe_stats(target: EngineTarget, container: ContainerInfo, subscriber: Subscriber) -> StatsStream:
    """Attach a viewer to the shared stats stream of `container`, starting it if needed."""
    key = ("stats", target.url, container.id)
    return cast(StatsStream, hub().attach(key, lambda: StatsStream(key, target, container), subscriber))
