"""Benchmark: the Docker-protocol gateway against the engine's own socket, and HAProxy as the peer.

Everything is real: the testbed's engine1 (unix socket), `manage.py gateway` as `make run` starts it (temp
SQLite database, an admin token), and HAProxy configured like docker-socket-proxy (mode http,
http-server-close, its path ACLs; loopback only). Prints, from one run:

- `GET /containers/json` with 50 containers: p50 and p99 latency at concurrency 1 and 16, and throughput at
  16, for each path. Goals: gateway p50 under 1.5x direct; throughput at 16 at least 60% of direct.
- `docker logs` of a container that printed 200 MB, wall time per path. Goal: gateway under 1.2x direct.

The machine may be shared: the paths are measured in turn, several rounds each, and the noise shows in p99.

Run: `.venv/bin/python bench/gateway.py` (root, with the test packages installed: dockerd, haproxy).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import h11

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path, where bench/containers.py and bench/images.py
    # would shadow the apps; the project root belongs there instead.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import API, engine_env, environment, free_port, percentile, setup_database, start_listener  # noqa: E402

HOST_NAME = "engine1"  # engine1 as setup_database() registers it
CONTAINERS = 50
LOG_BYTES = 200 * 1024 * 1024
LINE = "0123456789" * 9 + "01234567"  # 98 characters and a newline per log line
SEQUENTIAL, PER_WORKER, WORKERS, ROUNDS = 400, 100, 16, 4


def start_gateway(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """`manage.py gateway` as `make run` starts it."""
    command = [sys.executable, "manage.py", "gateway", "--address", f"127.0.0.1:{port}"]
    return start_listener("gateway", command, port, workdir / "gateway.log", timeout=30)


# Like docker-socket-proxy's haproxy.cfg with CONTAINERS=1 (plus its defaults PING, VERSION, EVENTS).
HAPROXY_CFG = """\
global
    maxconn 4000
defaults
    mode http
    log stdout format raw daemon info
    option httplog
    option dontlognull
    option http-server-close
    option redispatch
    retries 3
    timeout http-request 10s
    timeout queue 1m
    timeout connect 10s
    timeout client 10m
    timeout server 10m
    timeout http-keep-alive 10s
    maxconn 3000
backend dockerbackend
    server dockersocket unix@{socket}
frontend dockerfrontend
    bind 127.0.0.1:{port}
    http-request deny unless METH_GET
    http-request allow if {{ path,url_dec -m reg -i ^(/v[\\d\\.]+)?(/\\w+)?/containers }}
    http-request allow if {{ path,url_dec -m reg -i ^(/v[\\d\\.]+)?(/\\w+)?/_ping }}
    http-request allow if {{ path,url_dec -m reg -i ^(/v[\\d\\.]+)?(/\\w+)?/version }}
    http-request allow if {{ path,url_dec -m reg -i ^(/v[\\d\\.]+)?(/\\w+)?/events }}
    http-request deny
    default_backend dockerbackend
"""


def start_haproxy(workdir: Path, port: int, socket_path: str) -> subprocess.Popen[bytes]:
    config = workdir / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(socket=socket_path, port=port))
    return start_listener("haproxy", ["haproxy", "-db", "-f", str(config)], port, workdir / "haproxy.log", 30)


@dataclass
class Target:
    """One way to reach engine1: where to connect and what to prefix and send."""

    name: str
    connect: Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
    prefix: str = ""
    headers: tuple[tuple[str, str], ...] = ()


async def one_request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    conn: h11.Connection,
    target: Target,
    path: str,
) -> None:
    if conn.our_state is h11.DONE:
        conn.start_next_cycle()
    headers = [("Host", "docker"), *target.headers]
    writer.write(conn.send(h11.Request(method="GET", target=target.prefix + path, headers=headers)))
    writer.write(conn.send(h11.EndOfMessage()))
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(262144))
        elif isinstance(event, h11.Response) and event.status_code != 200:
            raise SystemExit(f"{target.name}: {path} answered {event.status_code}")
        elif isinstance(event, h11.EndOfMessage):
            return


async def worker(target: Target, path: str, count: int, latencies: list[float]) -> None:
    reader, writer = await target.connect()
    conn = h11.Connection(h11.CLIENT)
    try:
        for _ in range(count):
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                writer.close()
                reader, writer = await target.connect()
                conn = h11.Connection(h11.CLIENT)
            started = time.perf_counter()
            await one_request(reader, writer, conn, target, path)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


@dataclass
class Latency:
    p50: float
    p99: float
    throughput: float


async def measure(targets: dict[str, Target], path: str, workers: int, per_worker: int) -> dict[str, Latency]:
    """The targets in turn, ROUNDS times (the machine is shared: interleaving spreads its noise evenly)."""
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    elapsed = dict.fromkeys(targets, 0.0)
    for target in targets.values():
        await worker(target, path, 20, [])  # warm-up: connections, caches
    for _ in range(ROUNDS):
        for name, target in targets.items():
            started = time.perf_counter()
            count = per_worker // ROUNDS
            await asyncio.gather(*(worker(target, path, count, latencies[name]) for _ in range(workers)))
            elapsed[name] += time.perf_counter() - started
    return {
        name: Latency(percentile(found, 0.5), percentile(found, 0.99), len(found) / elapsed[name])
        for name, found in latencies.items()
    }


def docker_logs(docker_host: str, config_dir: Path, container: str) -> float:
    env = {**engine_env(config_dir), "DOCKER_HOST": docker_host}
    started = time.perf_counter()
    result = subprocess.run(["docker", "logs", container], env=env, stdout=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or len(result.stdout) != LOG_BYTES:
        raise SystemExit(
            f"docker logs via {docker_host}: exit {result.returncode}, {len(result.stdout)} bytes"
        )
    return elapsed


def main() -> None:
    if shutil.which("haproxy") is None:
        sys.exit("bench/gateway.py compares with HAProxy: install it (Debian: apt-get install haproxy).")
    with environment("gateway", show_load=False) as env:
        bed, workdir = env.bed, env.workdir
        engine = env.engine_clients()[0]
        token = setup_database(bed).token
        gateway_port, haproxy_port = free_port(), free_port()
        env.keep(start_gateway(workdir, gateway_port))
        env.keep(start_haproxy(workdir, haproxy_port, bed.engine1.socket_path))
        for index in range(CONTAINERS):
            engine.containers.create(bed.images[0], ["sleep", "1"], name=f"bench-{index}")
        config_dir = workdir / "docker-config"
        config_dir.mkdir()
        (config_dir / "config.json").write_text(f'{{"HttpHeaders": {{"Authorization": "Bearer {token}"}}}}')

        socket_path = bed.engine1.socket_path
        targets = {
            "direct": Target("direct", lambda: asyncio.open_unix_connection(socket_path, limit=1 << 20)),
            "gateway": Target(
                "gateway",
                lambda: asyncio.open_connection("127.0.0.1", gateway_port, limit=1 << 20),
                prefix=f"/hosts/{HOST_NAME}",
                headers=(("Authorization", f"Bearer {token}"),),
            ),
            "haproxy": Target(
                "haproxy", lambda: asyncio.open_connection("127.0.0.1", haproxy_port, limit=1 << 20)
            ),
        }
        path = f"/v{API}/containers/json?all=1"
        results: dict[tuple[str, int], Latency] = {}
        for concurrency, per_worker in ((1, SEQUENTIAL), (WORKERS, PER_WORKER)):
            for name, latency in asyncio.run(measure(targets, path, concurrency, per_worker)).items():
                results[name, concurrency] = latency

        script = f"yes {LINE} | head -c {LOG_BYTES}"
        logger = engine.containers.run(bed.images[0], ["sh", "-c", script], detach=True, name="bench-logs")
        logger.wait(timeout=600)
        no_config = workdir / "no-config"
        hosts = {
            "direct": (bed.engine1.unix_url, no_config),
            "gateway": (f"tcp://127.0.0.1:{gateway_port}/hosts/{HOST_NAME}", config_dir),
            "haproxy": (f"tcp://127.0.0.1:{haproxy_port}", no_config),
        }
        walls: dict[str, list[float]] = {name: [] for name in hosts}
        for _ in range(2):  # interleaved, the faster of two: the machine is shared
            for name, (docker_host, config) in hosts.items():
                walls[name].append(docker_logs(docker_host, config, logger.id))
        report(results, {name: min(times) for name, times in walls.items()})


def report(results: dict[tuple[str, int], Latency], logs: dict[str, float]) -> None:
    print(f"GET /containers/json, {CONTAINERS} containers (ms; throughput in requests/s)")
    for concurrency in (1, WORKERS):
        direct = results["direct", concurrency]
        for name in ("direct", "gateway", "haproxy"):
            got = results[name, concurrency]
            print(
                f"  c={concurrency:<2} {name:8s} p50 {got.p50 * 1000:7.2f} ({got.p50 / direct.p50:4.2f}x)  "
                f"p99 {got.p99 * 1000:7.2f} ({got.p99 / direct.p99:4.2f}x)  "
                f"{got.throughput:7.1f}/s ({got.throughput / direct.throughput:4.0%} of direct)"
            )
    gateway1, direct1 = results["gateway", 1], results["direct", 1]
    gateway16, direct16 = results["gateway", WORKERS], results["direct", WORKERS]
    p50_ok = gateway1.p50 <= 1.5 * direct1.p50 and gateway16.p50 <= 1.5 * direct16.p50
    print(f"  goal p50 under 1.5x direct: {'met' if p50_ok else 'MISSED'}; "
          f"throughput at {WORKERS} at least 60% of direct: "
          f"{'met' if gateway16.throughput >= 0.6 * direct16.throughput else 'MISSED'}")  # fmt: skip
    print(f"docker logs of {LOG_BYTES >> 20} MB (wall time, s)")
    for name in ("direct", "gateway", "haproxy"):
        print(f"  {name:8s} {logs[name]:7.2f} ({logs[name] / logs['direct']:4.2f}x)")
    print(
        f"  goal gateway under 1.2x direct: {'met' if logs['gateway'] <= 1.2 * logs['direct'] else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
