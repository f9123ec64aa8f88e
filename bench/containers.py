"""Benchmark: container logs over websockets, log fan-out, and the container list, against the engines.

Everything is real: the testbed's two engines (engine1 on its unix socket, engine2 over TCP + mutual TLS), a
private Redis, a temp SQLite database, and the ASGI application served by uvicorn as `make run` serves it,
talked to over real sockets (`websockets` for the websockets, `httpx` for REST). Prints, from one run:

1. Log throughput: a container printed 1,000,000 lines; time until a websocket client
   (`?tail=all&follow=0`) has them all (checked: every line, in order), against `docker logs` (the CLI) on
   the engine's socket, and for reference `docker logs -t` and a raw read of the server's API call with the
   SDK; with the CPU seconds dockerd, the server and the client spent. Goal: under 1.5x `docker logs`.
2. Fan-out: 100 viewers of one busy container (~1,000 lines/s) in one client process: the engine log streams
   the server opened (goal: 1), the latency from the engine's timestamp to the slowest of 100 viewers
   against one viewer (goal: under 3x), and the server's RSS before, during and after (goal: flat). The
   viewers negotiate permessage-deflate as browsers do (`BENCH_WS_COMPRESSION=` turns it off).
3. Container list, 500 containers on 2 hosts: `GET /api/v1/containers/?limit=1000` against each engine's own
   `/containers/json?all=1` (alone and both at once), and database queries per request for 2 and 500
   containers (goal: constant).

The machine may be shared: every figure is a median of several runs, and the load average is printed.

Run: `.venv/bin/python bench/containers.py [logs] [fanout] [list]` (root, with the test packages installed;
no argument runs all three).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path, where this file would shadow the containers app.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402 (after the path fix above)
    API,
    IMAGE,
    Setup,
    children_cpu,
    cpu_seconds,
    create_containers,
    engine_env,
    environment,
    median,
    parts_of,
    percentile,
    remove_containers,
    rss_mb,
    setup_database,
    uptime,
)

PREFIX = "dwbench-"  # every container this benchmark creates; removed at the end whatever happens

LOG_LINES = 1_000_000
LOG_RUNS = 5

BUSY_SCRIPT = "i=1; while true; do seq $i $((i + 99)); i=$((i + 100)); sleep 0.1; done"  # ~1,000 lines/s
VIEWERS = 100
FANOUT_ROUNDS = 3
FANOUT_WINDOW = 6.0  # seconds of lines measured per round
SETTLE = 1.0  # after every viewer got its first lines, before the window opens

LIST_PER_HOST = 250
LIST_RUNS = 9


# Engine side: the unix connections of a process


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return inodes


def engine_connections(pid: int, engine: Any) -> int:
    """How many connections process `pid` holds to the engine's unix socket.

    `ss -x` lists the engine's end of every accepted connection with the socket's path and the peer's inode;
    the peers that are sockets of `pid` are its connections. Both network namespaces are looked at (the
    engine runs in its own).
    """
    mine = socket_inodes(pid)
    peers = set()
    for prefix in ([], ["nsenter", f"--net=/run/netns/{engine.netns}"]):
        result = subprocess.run([*prefix, "ss", "-xHn"], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 8 and parts[4] == engine.socket_path and parts[7].isdigit():
                peers.add(int(parts[7]))
    return len(mine & peers)


def ssl_context(tls: Any, workdir: Path) -> ssl.SSLContext:
    directory = workdir / "client-tls"
    directory.mkdir(exist_ok=True)
    ca, cert, key = tls.write_files(str(directory))
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    return context


# Websocket clients


async def ws_connect(url: str, token: str, compression: str | None) -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=compression,
        proxy=None,
        max_size=None,
        max_queue=1024,
        ping_interval=None,
        open_timeout=60,
    )


LINES_PREFIX = b'{"type":"lines"'


# 1. Log throughput


@dataclass
class LogRun:
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # dockerd, server, client: CPU seconds used
    lines: int = 0
    problem: str = ""


def cli_logs(engine: Any, config_dir: Path, name: str, *flags: str) -> LogRun:
    dockerd, cli = cpu_seconds(engine.dockerd_pid), children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        ["docker", "-H", engine.unix_url, "logs", *flags, name],
        env=engine_env(config_dir), stdout=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    run = LogRun(time.perf_counter() - started)
    if result.returncode != 0:
        raise SystemExit(f"docker logs {name}: exit {result.returncode}")
    run.cpu = {"dockerd": cpu_seconds(engine.dockerd_pid) - dockerd, "client": children_cpu() - cli}
    return run


def raw_sdk_logs(engine: Any, name: str) -> tuple[LogRun, int]:
    """The server's engine call (stdout, stderr, timestamps), its body read raw with the SDK's session."""
    import docker

    api = docker.APIClient(base_url=engine.unix_url, version=API, timeout=600)
    try:
        dockerd, client = cpu_seconds(engine.dockerd_pid), time.process_time()
        started = time.perf_counter()
        params = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0, "tail": "all"}
        response = api._get(api._url("/containers/{0}/logs", name), params=params, stream=True)
        response.raise_for_status()
        size = sum(len(chunk) for chunk in response.iter_content(1 << 20))
        run = LogRun(time.perf_counter() - started)
        run.cpu = {
            "dockerd": cpu_seconds(engine.dockerd_pid) - dockerd,
            "client": time.process_time() - client,
        }
        return run, size
    finally:
        api.close()


async def ws_logs(
    port: int, token: str, host: int, name: str, compression: str | None, pids: dict[str, int]
) -> LogRun:
    """Time until every line is in (the `end` message); the lines are checked after the clock stops."""
    url = f"ws://127.0.0.1:{port}/ws/hosts/{host}/containers/{name}/logs/?tail=all&follow=0"
    cpu = {who: cpu_seconds(pid) for who, pid in pids.items()}
    client = time.process_time()
    started = time.perf_counter()
    batches: list[bytes] = []
    others: list[dict[str, Any]] = []
    ws = await ws_connect(url, token, compression)
    try:
        while True:
            message = await ws.recv(decode=False)
            if message.startswith(LINES_PREFIX):
                batches.append(message)
                continue
            others.append(json.loads(message))
            if others[-1]["type"] in ("end", "error"):
                break
    finally:
        await ws.close()
    run = LogRun(time.perf_counter() - started)
    run.cpu = {who: cpu_seconds(pid) - cpu[who] for who, pid in pids.items()}
    run.cpu["client"] = time.process_time() - client
    expected, last_ts = 1, ""
    for batch in batches:
        for line in json.loads(batch)["lines"]:
            ts = line["ts"]
            if not run.problem and (
                line["text"] != str(expected) or line["stream"] != "stdout" or not ts or ts < last_ts
            ):
                run.problem = f"line {expected} is {line}"
            last_ts = ts
            expected += 1
    run.lines = expected - 1
    unexpected = [m for m in others if m["type"] not in ("ready", "end")]
    if unexpected or not others or others[-1]["type"] != "end":
        run.problem += f" messages: {(unexpected or others)[:3]}"
    if run.lines != LOG_LINES:
        run.problem += f" {run.lines:,} lines"
    return run


def bench_logs(bed: Any, setup: Setup, port: int, engine1: Any, workdir: Path, server_pid: int) -> list[str]:
    name = f"{PREFIX}logs"
    container = engine1.containers.run(IMAGE, ["sh", "-c", f"seq 1 {LOG_LINES}"], name=name, detach=True)
    container.wait(timeout=600)
    config_dir = workdir / "docker-config"
    config_dir.mkdir(exist_ok=True)
    pids = {"dockerd": bed.engine1.dockerd_pid, "server": server_pid}
    paths: dict[str, Callable[[], LogRun]] = {
        "docker logs NAME >/dev/null (CLI, engine socket)": lambda: cli_logs(bed.engine1, config_dir, name),
        "docker logs -t NAME (with the server's timestamps)": lambda: cli_logs(
            bed.engine1, config_dir, name, "-t"
        ),
        "raw API read with the SDK (the server's call)": lambda: raw_sdk_logs(bed.engine1, name)[0],
        "websocket, permessage-deflate (as browsers)": lambda: asyncio.run(
            ws_logs(port, setup.token, setup.host1, name, "deflate", pids)
        ),
        "websocket, no compression": lambda: asyncio.run(
            ws_logs(port, setup.token, setup.host1, name, None, pids)
        ),
    }
    size = raw_sdk_logs(bed.engine1, name)[1]  # warm-up, and the size
    asyncio.run(ws_logs(port, setup.token, setup.host1, name, None, pids))
    runs: dict[str, list[LogRun]] = {what: [] for what in paths}
    for _ in range(LOG_RUNS):  # interleaved: the machine is shared
        for what, measure in paths.items():
            runs[what].append(measure())
    container.remove(force=True)

    direct = median([r.seconds for r in runs[next(iter(paths))]])
    out = [
        f"1. Log throughput: {LOG_LINES:,} lines ({size / 1e6:.1f} MB as the engine sends them with "
        f"timestamps), median of {LOG_RUNS} interleaved runs",
        f"   {'':50s}   wall    ratio   CPU s: dockerd  server  client",
    ]
    for what, measured in runs.items():
        seconds = median([r.seconds for r in measured])
        cpu = [
            f"{median([r.cpu[who] for r in measured]):.2f}" if who in measured[0].cpu else "-"
            for who in ("dockerd", "server", "client")
        ]
        line = f"   {what:50s} {seconds:6.2f} s  {seconds / direct:4.2f}x   "
        line += f"{cpu[0]:>14s}  {cpu[1]:>6s}  {cpu[2]:>6s}"
        if what.startswith("websocket"):
            problems = [r.problem for r in measured if r.problem]
            line += f"   goal under 1.5x: {'met' if seconds < 1.5 * direct else 'MISSED'}"
            line += "; every line, in order, stdout, stamped: " + (
                "yes" if not problems else f"NO ({problems[0][:200]})"
            )
        out.append(line)
    out.append(
        "   every run, s: "
        + " | ".join(
            f"{what.split(' (')[0]}: {' '.join(f'{r.seconds:.2f}' for r in rs)}" for what, rs in runs.items()
        )
    )
    return out


# 2. Fan-out


@lru_cache(maxsize=4096)
def _second_epoch(whole: str) -> float:
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()


def engine_time(ts: str) -> float:
    """Seconds since the epoch of an engine timestamp (`2026-01-02T03:04:05.123456789Z`)."""
    whole, _, fraction = ts.rstrip("Z").partition(".")
    return _second_epoch(whole) + (float(f"0.{fraction}") if fraction else 0.0)


@dataclass
class Viewer:
    ws: Any
    received: list[tuple[float, bytes]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            while True:
                message = await self.ws.recv(decode=False)
                if message.startswith(LINES_PREFIX):
                    self.received.append((time.time(), message))  # parsed after the window
                else:
                    self.others.append(json.loads(message))

    def arrivals(self, start: float, stop: float) -> dict[int, tuple[float, float]]:
        """Sequence number -> (engine timestamp, arrival) of the lines the engine stamped in [start, stop)."""
        found = {}
        for arrived, message in self.received:
            for line in json.loads(message)["lines"]:
                stamped = engine_time(line["ts"])
                if start <= stamped < stop and line["text"].isdigit():
                    found[int(line["text"])] = (stamped, arrived)
        return found


@dataclass
class FanoutRound:
    viewers: int
    latencies: list[float]  # per line: engine timestamp to arrival at the slowest viewer, seconds
    missing: int  # lines of the window that some viewer never got
    skipped: int  # "skipped" markers summed over viewers
    streams_during: int
    rss_during: float


async def sampled(pid: int, engine: Any, stop: asyncio.Event, out: dict[str, float]) -> None:
    while not stop.is_set():
        rss = rss_mb(pid)
        connections = await asyncio.to_thread(engine_connections, pid, engine)
        out["rss"] = max(out.get("rss", 0.0), rss)
        out["streams"] = max(out.get("streams", 0), connections)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def fanout_round(
    count: int, url: str, token: str, pid: int, engine: Any, compression: str | None
) -> FanoutRound:
    viewers = [
        Viewer(ws)
        for ws in await asyncio.gather(*(ws_connect(url, token, compression) for _ in range(count)))
    ]
    for viewer in viewers:
        viewer.task = asyncio.create_task(viewer.run())
    deadline = time.monotonic() + 60
    while not all(viewer.received for viewer in viewers):
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{sum(not v.received for v in viewers)} of {count} viewers got no lines in 60 s"
            )
        await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE)
    stop, during = asyncio.Event(), dict[str, float]()
    sampler = asyncio.create_task(sampled(pid, engine, stop, during))
    start = time.time()
    await asyncio.sleep(FANOUT_WINDOW)
    end = time.time()
    await asyncio.sleep(1.5)  # the window's last lines reach everyone
    stop.set()
    await sampler
    await asyncio.gather(*(viewer.ws.close() for viewer in viewers))
    await asyncio.gather(*(viewer.task for viewer in viewers if viewer.task is not None))
    per_viewer = [viewer.arrivals(start, end) for viewer in viewers]
    every = set().union(*per_viewer)
    latencies = []
    missing = 0
    for seq in every:
        got = [arrivals[seq] for arrivals in per_viewer if seq in arrivals]
        if len(got) < count:
            missing += 1
            continue
        latencies.append(max(arrived for _, arrived in got) - got[0][0])
    skipped = sum(m.get("count", 0) for viewer in viewers for m in viewer.others if m["type"] == "skipped")
    return FanoutRound(
        count, latencies, missing, skipped, int(during.get("streams", 0)), during.get("rss", 0.0)
    )


def bench_fanout(bed: Any, setup: Setup, port: int, engine1: Any, server_pid: int) -> list[str]:
    name = f"{PREFIX}busy"
    engine1.containers.run(IMAGE, ["sh", "-c", BUSY_SCRIPT], name=name, detach=True)
    time.sleep(1)
    url = f"ws://127.0.0.1:{port}/ws/hosts/{setup.host1}/containers/{name}/logs/?tail=0&follow=1"
    engine = bed.engine1
    compression = os.environ.get("BENCH_WS_COMPRESSION", "deflate") or None  # deflate: as browsers

    async def run_all() -> tuple[list[tuple[FanoutRound, FanoutRound]], list[tuple[str, float, int]]]:
        timeline: list[tuple[str, float, int]] = []

        def mark(what: str) -> None:
            timeline.append((what, rss_mb(server_pid), engine_connections(server_pid, engine)))

        await fanout_round(1, url, setup.token, server_pid, engine, compression)  # warm-up
        await asyncio.sleep(2)
        mark("before (idle, after a warm-up viewer)")
        rounds = []
        for index in range(FANOUT_ROUNDS):
            one = await fanout_round(1, url, setup.token, server_pid, engine, compression)
            many = await fanout_round(VIEWERS, url, setup.token, server_pid, engine, compression)
            await asyncio.sleep(3)
            mark(f"after round {index + 1} (all viewers gone)")
            rounds.append((one, many))
        return rounds, timeline

    rounds, timeline = asyncio.run(run_all())
    engine1.api.remove_container(name, force=True)

    def stats(values: list[float]) -> tuple[float, float]:
        return percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000

    one_p50 = median([stats(one.latencies)[0] for one, _ in rounds])
    one_p99 = median([stats(one.latencies)[1] for one, _ in rounds])
    many_p50 = median([stats(many.latencies)[0] for _, many in rounds])
    many_p99 = median([stats(many.latencies)[1] for _, many in rounds])
    lines = median([len(many.latencies) for _, many in rounds])
    streams = [(one.streams_during, many.streams_during) for one, many in rounds]
    out = [
        f"2. Fan-out: one container printing ~1,000 lines/s in bursts of 100; {FANOUT_ROUNDS} rounds of "
        f"1 viewer, then {VIEWERS} viewers ({compression}), {FANOUT_WINDOW:g} s of lines each "
        f"(~{lines:.0f} lines per round)",
        "   engine log streams open in the server process (its connections to the engine socket), "
        "1 viewer / 100 viewers: "
        + ", ".join(f"{a}/{b}" for a, b in streams)
        + f": goal 1 {'met' if all(b == 1 for _, b in streams) else 'MISSED'}",
        "   engine timestamp -> line received, ms (median of rounds):   p50      p99",
        f"     1 viewer                                             {one_p50:7.1f}  {one_p99:7.1f}",
        f"     slowest of {VIEWERS} viewers, per line                       {many_p50:7.1f}  {many_p99:7.1f}",
        f"     ratio                                                {many_p50 / one_p50:6.2f}x  "
        f"{many_p99 / one_p99:6.2f}x: goal under 3x "
        f"{'met' if many_p50 < 3 * one_p50 and many_p99 < 3 * one_p99 else 'MISSED'}",
        "     every round, p50/p99 ms, 1 viewer | slowest of 100: "
        + ", ".join(
            "{:.0f}/{:.0f} | {:.0f}/{:.0f}".format(*stats(one.latencies), *stats(many.latencies))
            for one, many in rounds
        ),
        "     lines missed by some viewer: "
        + ", ".join(str(many.missing) for _, many in rounds)
        + "; lines skipped (slow-viewer markers): "
        + ", ".join(str(many.skipped) for _, many in rounds),
        "   server RSS, MB: "
        + "; ".join(f"{what} {rss:.1f} ({n} engine streams)" for what, rss, n in timeline[:1]),
        "     during each round with 100 viewers (peak): "
        + ", ".join(f"{many.rss_during:.1f}" for _, many in rounds),
        "     " + "; ".join(f"{what} {rss:.1f} ({n} engine streams)" for what, rss, n in timeline[1:]),
    ]
    rss = [mb for _, mb, _ in timeline]
    growth = [later - earlier for earlier, later in itertools.pairwise(rss)]
    # Flat: no growth once the allocator's pools are warm (the last round), and little overall.
    flat = growth[-1] < 2 and rss[-1] - rss[0] < 0.1 * rss[0] + 10
    out.append(
        f"     growth per round: {', '.join(f'{mb:+.1f}' for mb in growth)} MB; after - before "
        f"{rss[-1] - rss[0]:+.1f} MB: goal flat {'met' if flat else 'MISSED'}"
    )
    return out


# 3. Container list


async def engine_list(targets: list[tuple[str, Any]]) -> float:
    """`GET /containers/json?all=1` on each target at once, each on a new connection (as the server asks)."""
    import httpx

    async def one(base_url: str, transport: Any) -> None:
        async with httpx.AsyncClient(base_url=base_url, transport=transport, trust_env=False) as client:
            response = await client.get(f"/v{API}/containers/json", params={"all": 1})
            response.raise_for_status()
            response.json()

    started = time.perf_counter()
    await asyncio.gather(*(one(base_url, factory()) for base_url, factory in targets))
    return time.perf_counter() - started


def count_queries(token: str) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="localhost", headers={"Authorization": f"Bearer {token}"})
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/containers/", {"limit": 1000})
    if response.status_code != 200:
        raise SystemExit(f"in-process list: {response.status_code} {response.content[:300]!r}")
    return len(queries), [q["sql"][:90] for q in queries.captured_queries]


def bench_list(bed: Any, setup: Setup, port: int, engines: list[Any], workdir: Path) -> list[str]:
    import httpx

    names = [[f"{PREFIX}list-{e}-{i:03d}" for i in range(LIST_PER_HOST)] for e in (1, 2)]
    tls = ssl_context(bed.engine2.client_tls, workdir)
    address = bed.engine2.tls_url.removeprefix("tcp://")
    # verify=False: a unix socket speaks no TLS (and httpx would load the public CA bundle every time).
    e1 = ("http://docker", lambda: httpx.AsyncHTTPTransport(uds=bed.engine1.socket_path, verify=False))
    e2 = (f"https://{address}", lambda: httpx.AsyncHTTPTransport(verify=tls))
    rest = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {setup.token}"},
        trust_env=False, timeout=60,
    )  # fmt: skip

    def rest_list(expected: int) -> float:
        started = time.perf_counter()
        response = rest.get("/api/v1/containers/", params={"limit": 1000})
        elapsed = time.perf_counter() - started
        body = response.json()
        if response.status_code != 200 or body["count"] != expected or body["errors"]:
            raise SystemExit(
                f"REST list: {response.status_code} count {body.get('count')} {body.get('errors')}"
            )
        return elapsed

    figures: dict[int, dict[str, float]] = {}
    queries: dict[int, tuple[int, list[str]]] = {}
    try:
        for total in (2, 2 * LIST_PER_HOST):
            per_host = total // 2
            for client, host_names in zip(engines, names, strict=True):
                existing = len(client.api.containers(all=True, filters={"name": f"{PREFIX}list-"}))
                create_containers(client, host_names[existing:per_host])
            rest_list(total)  # warm-up
            count_queries(setup.token)
            times: dict[str, list[float]] = {"rest": [], "e1": [], "e2": [], "both": []}
            for _ in range(LIST_RUNS):  # interleaved
                times["rest"].append(rest_list(total))
                times["e1"].append(asyncio.run(engine_list([e1])))
                times["e2"].append(asyncio.run(engine_list([e2])))
                times["both"].append(asyncio.run(engine_list([e1, e2])))
            figures[total] = {key: median(values) * 1000 for key, values in times.items()}
            queries[total] = count_queries(setup.token)
    finally:
        rest.close()
        for client, host_names in zip(engines, names, strict=True):
            remove_containers(client, host_names)

    out = [
        f"3. Container list, GET /api/v1/containers/?limit=1000 (REST, keep-alive) against each engine's own "
        f"GET /containers/json?all=1 (new connection each, as the server makes), median of {LIST_RUNS}, ms"
    ]
    for total, f in figures.items():
        out.append(
            f"   {total:3d} containers: REST {f['rest']:7.1f} | engine1 (unix) {f['e1']:6.1f}, engine2 (TLS) "
            f"{f['e2']:6.1f}, both at once {f['both']:6.1f} | REST = {f['rest'] / f['both']:.2f}x both, "
            f"{f['rest'] / max(f['e1'], f['e2']):.2f}x the slower engine"
        )
    small, large = queries[2][0], queries[2 * LIST_PER_HOST][0]
    out.append(
        f"   database queries per request (in-process, CaptureQueriesContext): {small} for 2 containers, "
        f"{large} for {2 * LIST_PER_HOST}: goal constant {'met' if small == large else 'MISSED'}"
    )
    out.append("     " + "; ".join(queries[2 * LIST_PER_HOST][1]))
    return out


# The run


def main(argv: list[str]) -> None:
    parts = parts_of(argv, ("logs", "fanout", "list"))
    with environment("containers") as env:
        env.start_redis()
        setup = setup_database(env.bed)
        clients = env.engine_clients(PREFIX)
        server, port = env.start_server()
        print(f"uvicorn pid {server.pid} on 127.0.0.1:{port}; data in {env.workdir}", flush=True)
        for part in parts:
            if part == "logs":
                report = bench_logs(env.bed, setup, port, clients[0], env.workdir, server.pid)
            elif part == "fanout":
                report = bench_fanout(env.bed, setup, port, clients[0], server.pid)
            else:
                report = bench_list(env.bed, setup, port, clients, env.workdir)
            print("\n".join(report), flush=True)
            print(f"   (machine now: {uptime()})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
