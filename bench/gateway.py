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
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import h11

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKDIR = Path(tempfile.mkdtemp(prefix="dockerweb-bench-gateway-"))
os.environ.update(DOCKERWEB_DATA_DIR=str(WORKDIR), DJANGO_SETTINGS_MODULE="dockerweb.settings")
os.environ.pop("DATABASE_URL", None)

IMAGE = "dwtest/busybox:latest"
HOST_NAME = "bench"
CONTAINERS = 50
LOG_BYTES = 200 * 1024 * 1024
LINE = "0123456789" * 9 + "01234567"  # 98 characters and a newline per log line
SEQUENTIAL, PER_WORKER, WORKERS, ROUNDS = 400, 100, 16, 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def start_gateway(port: int) -> subprocess.Popen[bytes]:
    log = WORKDIR / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "gateway", "--address", f"127.0.0.1:{port}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_port(port, process, log)
    return process


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


def start_haproxy(port: int, socket_path: str) -> subprocess.Popen[bytes]:
    if shutil.which("haproxy") is None:
        sys.exit("bench/gateway.py compares with HAProxy: install it (Debian: apt-get install haproxy).")
    config = WORKDIR / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(socket=socket_path, port=port))
    log = WORKDIR / "haproxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    wait_port(port, process, log)
    return process


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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


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


def docker_logs(docker_host: str, config_dir: Path | None, container: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_") and "proxy" not in k.lower()}
    env.update(DOCKER_HOST=docker_host, DOCKER_CONFIG=str(config_dir or WORKDIR / "no-config"))
    started = time.perf_counter()
    result = subprocess.run(["docker", "logs", container], env=env, stdout=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or len(result.stdout) != LOG_BYTES:
        raise SystemExit(
            f"docker logs via {docker_host}: exit {result.returncode}, {len(result.stdout)} bytes"
        )
    return elapsed


def setup_database(engine_url: str) -> str:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from hosts.models import ApiToken, Host

    call_command("migrate", verbosity=0)
    admin = User.objects.create_superuser("bench", "", None)
    Host.objects.create(name=HOST_NAME, url=engine_url)
    return ApiToken.issue(admin, "bench")[1]


def main() -> None:
    import docker

    from tests.testbed import start_testbed, stop_testbed

    bed = start_testbed()
    processes: list[subprocess.Popen[bytes]] = []
    engine = docker.DockerClient(base_url=bed.engine1.unix_url, version="1.41", timeout=600)
    try:
        token = setup_database(bed.engine1.unix_url)
        gateway_port, haproxy_port = free_port(), free_port()
        processes.append(start_gateway(gateway_port))
        processes.append(start_haproxy(haproxy_port, bed.engine1.socket_path))
        for index in range(CONTAINERS):
            engine.containers.create(IMAGE, ["sleep", "1"], name=f"bench-{index}")
        config_dir = WORKDIR / "docker-config"
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
        path = "/v1.41/containers/json?all=1"
        results: dict[tuple[str, int], Latency] = {}
        for concurrency, per_worker in ((1, SEQUENTIAL), (WORKERS, PER_WORKER)):
            for name, latency in asyncio.run(measure(targets, path, concurrency, per_worker)).items():
                results[name, concurrency] = latency

        script = f"yes {LINE} | head -c {LOG_BYTES}"
        logger = engine.containers.run(IMAGE, ["sh", "-c", script], detach=True, name="bench-logs")
        logger.wait(timeout=600)
        hosts = {
            "direct": (bed.engine1.unix_url, None),
            "gateway": (f"tcp://127.0.0.1:{gateway_port}/hosts/{HOST_NAME}", config_dir),
            "haproxy": (f"tcp://127.0.0.1:{haproxy_port}", None),
        }
        walls: dict[str, list[float]] = {name: [] for name in hosts}
        for _ in range(2):  # interleaved, the faster of two: the machine is shared
            for name, (docker_host, config) in hosts.items():
                walls[name].append(docker_logs(docker_host, config, logger.id))
        report(results, {name: min(times) for name, times in walls.items()})
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
        engine.close()
        stop_testbed(bed)
        shutil.rmtree(WORKDIR, ignore_errors=True)


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
