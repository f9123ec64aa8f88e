"""Benchmark: image jobs (pull, build, a queue of pulls) against the same work done on the engines directly.

Everything is real: the testbed's two engines (engine1 on its unix socket, engine2 over TCP + mutual TLS) and
its private registry, a private Redis, a temp SQLite database, the ASGI application served by uvicorn as
`make run` serves it (jobs are started through its REST API, over a real socket), and two Celery worker
processes started with `make run`'s worker command line (threads pool), 2 threads each. A job is done at
the moment its record says `succeeded` (its finished_at: the bench looks at the records only 4 times a
second, so that its own CPU does not slow the job path). Prints, from one run, each figure as a ratio
against the engine in the same run:

1. Pull of a ~200 MB image (4 layers of random data, built with the classic builder and pushed to the
   registry at start): `POST /api/v1/hosts/{id}/images/pull/` until the job succeeded, against `docker pull`
   (the CLI on the engine's unix socket) and, for reference, the docker SDK reading the engine's pull stream.
   Cold every time: the image is removed from the engine before each pull. Goal: under 1.15x `docker pull`.
2. Build of a 10-step Dockerfile (`POST /api/v1/hosts/{id}/images/build/?nocache=true`, the context tar as
   the body) against `DOCKER_BUILDKIT=0 docker build --no-cache` of the same directory. Goal: under 1.15x.
3. 20 pull jobs of 20 distinct small images, 10 per host, queued at once; at most 2 jobs run per host
   (DOCKERWEB_JOBS_PER_HOST, default 2), and the two workers have 2 threads each, so the per-host limit is
   what bounds them: total wall time against the same 20 pulls made with the docker SDK (the project's
   engine client, same transports) 2 at a time per host, both hosts at once.

The machine may be shared: the paths alternate (ABBA), every figure is a median, the load is printed.

Run: `.venv/bin/python bench/images.py [pull] [build] [queue]` (root, with the test packages installed; no
argument runs all three).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path, where this file would shadow the images app.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402 (after the path fix above)
    IMAGE,
    Setup,
    children_cpu,
    cpu_seconds,
    engine_env,
    environment,
    median,
    parts_of,
    setup_database,
    uptime,
)

BIG_LAYERS, BIG_LAYER_MB = 4, 50
PULL_ROUNDS = 5
BUILD_ROUNDS = 6
QUEUE_IMAGES, SMALL_MB = 20, 4
QUEUE_ROUNDS = 4
WORKERS, WORKER_THREADS = 2, 2
POLL = 0.25  # seconds between two looks at the job records (the times come from the records)
JOB_TIMEOUT = 300.0
PARTS = ("pull", "build", "queue")

BIG_DOCKERFILE = f"FROM {IMAGE}\n" + "".join(
    f"RUN dd if=/dev/urandom of=/blob{n} bs=1M count={BIG_LAYER_MB} 2>/dev/null\n"
    for n in range(1, BIG_LAYERS + 1)
)
# 10 steps: 5 RUN (a container each), COPY, and metadata steps; one RUN prints 200 lines of output.
BUILD_DOCKERFILE = f"""\
FROM {IMAGE}
ENV APP_HOME=/app
WORKDIR /app
COPY app.sh /app/app.sh
RUN chmod +x /app/app.sh && mkdir -p /app/data
RUN dd if=/dev/urandom of=/app/data/blob bs=1M count=8 2>/dev/null
RUN i=1; while [ $i -le 200 ]; do echo "output line $i"; i=$((i + 1)); done
RUN /app/app.sh > /app/data/out.txt && cat /app/data/out.txt
LABEL org.dockerweb.bench=build
CMD ["/app/app.sh"]
"""
BUILD_SCRIPT = '#!/bin/sh\necho "hello from $APP_HOME"; ls -l /app/data\n'


@dataclass
class Bench:
    bed: Any
    setup: Setup
    workdir: Path
    rest: Any  # httpx.Client on the uvicorn server, with the token
    engines: list[Any]  # docker SDK clients on both engines' unix sockets (setup, cleanup)
    pids: dict[str, list[int]]  # process kind -> pids, for CPU accounting
    config_dir: Path  # DOCKER_CONFIG of the CLI runs (empty)

    def ref(self, name: str) -> str:
        return f"{self.bed.registry}/dwbench/{name}:1"

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each kind of process; `client`: this process and its children (the CLI)."""
        used = {kind: sum(cpu_seconds(pid) for pid in pids) for kind, pids in self.pids.items()}
        return {**used, "client": cpu_seconds(os.getpid()) + children_cpu()}


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: after[kind] - before[kind] for kind in before}


# Images: build, push, remove


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def check_stream(what: str, events: Any) -> None:
    """Consume an engine JSON stream; pull, push and build report failures inside it."""
    for event in events:
        if isinstance(event, dict) and (event.get("error") or event.get("errorDetail")):
            raise SystemExit(f"{what}: {event.get('error') or event['errorDetail']}")


def build_and_push(client: Any, files: dict[str, bytes], ref: str) -> None:
    """Build with the classic builder (the SDK's /build), push to the testbed registry, drop it locally."""
    repository, tag = ref.rsplit(":", 1)
    stream = client.api.build(
        fileobj=io.BytesIO(tar_of(files)), custom_context=True, tag=ref, rm=True, forcerm=True, decode=True
    )
    check_stream(f"build {ref}", stream)
    check_stream(f"push {ref}", client.api.push(repository, tag=tag, stream=True, decode=True))
    remove_images(client, [ref])


def remove_images(client: Any, refs: list[str]) -> None:
    """Remove the images and whatever layers only they used, so the next pull downloads everything."""
    import docker.errors

    for ref in refs:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.api.remove_image(ref, force=True)
    client.api.prune_images(filters={"dangling": True})
    left = [ref for ref in refs if client.api.images(name=ref.rsplit(":", 1)[0], quiet=True)]
    if left:
        raise SystemExit(f"could not remove {left}")


def prepare_images(bench: Bench, parts: list[str]) -> None:
    engine1 = bench.engines[0]
    started = time.perf_counter()
    if "pull" in parts:
        build_and_push(engine1, {"Dockerfile": BIG_DOCKERFILE.encode()}, bench.ref("big"))
    for n in range(QUEUE_IMAGES if "queue" in parts else 2):  # the warm-up pulls two of them
        dockerfile = f"FROM {IMAGE}\nCOPY blob /blob-{n}\n"
        files = {"Dockerfile": dockerfile.encode(), "blob": os.urandom(SMALL_MB << 20)}
        build_and_push(engine1, files, bench.ref(f"small-{n:02d}"))
    print(
        f"images built and pushed to {bench.bed.registry} in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


# The job path


@dataclass
class JobRun:
    """One job as the client saw it, with the moments its record gives (epoch seconds)."""

    job_ids: list[str]
    sent: float  # the client starts the first POST
    posted: float  # the last POST answered 202
    records: list[dict[str, Any]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        """From the first POST to the moment the last job's record said succeeded (its finished_at)."""
        return max(record["finished_at"].timestamp() for record in self.records) - self.sent

    def phases(self) -> dict[str, float]:
        """Where one job's time went (the first job of the run): ms, except the run in s."""
        record = self.records[0]
        created, started = record["created_at"].timestamp(), record["started_at"].timestamp()
        finished = record["finished_at"].timestamp()
        return {
            "request": (created - self.sent) * 1000,  # POST until the record exists (view, admission, audit)
            "answered": (self.posted - self.sent) * 1000,  # the POST's round trip (202 with the job)
            "dispatch": (started - created) * 1000,  # commit, Celery, a worker thread, the slot claim
            "run": finished - started,  # the worker's run: admit again, engine stream, inspect, save
        }


def post_job(bench: Bench, path: str, **kwargs: Any) -> str:
    response = bench.rest.post(path, **kwargs)
    if response.status_code != 202:
        raise SystemExit(f"POST {path}: {response.status_code} {response.text[:500]}")
    return str(response.json()["id"])


def wait_jobs(job_ids: list[str]) -> list[dict[str, Any]]:
    """Poll the records until every job succeeded; the records, in the order of `job_ids`."""
    from images.models import Job, JobStatus

    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        rows = list(Job.objects.filter(pk__in=job_ids).values_list("status", flat=True))
        if any(status in (JobStatus.FAILED, JobStatus.CANCELLED) for status in rows):
            failed = Job.objects.filter(pk__in=job_ids).exclude(status=JobStatus.SUCCEEDED)
            raise SystemExit(f"job failed: {list(failed.values('id', 'status', 'error'))}")
        if len(rows) == len(job_ids) and all(status == JobStatus.SUCCEEDED for status in rows):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs not done within {JOB_TIMEOUT:g} s: {rows}")
        time.sleep(POLL)
    fields = ("id", "host_id", "created_at", "started_at", "finished_at")
    by_id = {str(row["id"]): row for row in Job.objects.filter(pk__in=job_ids).values(*fields)}
    return [by_id[job_id] for job_id in job_ids]


def run_jobs(bench: Bench, submit: Callable[[], list[str]]) -> JobRun:
    cpu = bench.cpu()
    sent = time.time()
    job_ids = submit()
    posted = time.time()
    records = wait_jobs(job_ids)
    return JobRun(job_ids, sent, posted, records, cpu_used(cpu, bench.cpu()))


# Direct paths


@dataclass
class DirectRun:
    wall: float
    cpu: dict[str, float]


def timed(bench: Bench, work: Callable[[], None]) -> DirectRun:
    cpu = bench.cpu()
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    return DirectRun(wall, cpu_used(cpu, bench.cpu()))


def cli(bench: Bench, *args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        ["docker", "-H", bench.bed.engine1.unix_url, *args],
        env={**engine_env(bench.config_dir), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"docker {' '.join(args)}: exit {result.returncode}: {result.stderr.decode()[-2000:]}"
        )


def sdk_pull(client: Any, ref: str) -> None:
    repository, tag = ref.rsplit(":", 1)
    check_stream(f"pull {ref}", client.api.pull(repository, tag=tag, stream=True, decode=True))


@contextlib.contextmanager
def host_clients(host_id: int, count: int) -> Iterator[list[Any]]:
    """`count` docker SDK clients for the host from the project's engine client factory (same transport)."""
    from hosts.engine import EngineTarget
    from hosts.engine.client import open_engine
    from hosts.models import Host

    target = EngineTarget.of(Host.objects.get(pk=host_id))
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(open_engine(target, read_timeout=600)) for _ in range(count)]


def cpu_line(runs: list[Any]) -> str:
    kinds = runs[0].cpu
    return ", ".join(f"{kind} {median([r.cpu[kind] for r in runs]):.2f}" for kind in kinds)


def paired(jobs: list[Any], directs: list[Any]) -> float:
    """The median of the per-round ratios: each round's two runs shared the machine's load of the moment."""
    return median([job.wall / direct.wall for job, direct in zip(jobs, directs, strict=True)])


def fastest(runs: list[Any]) -> tuple[float, Any]:
    best = min(runs, key=lambda run: run.wall)
    return best.wall, best


def verdict(ratio: float, goal: float) -> str:
    return f"goal under {goal:.2f}x: {'met' if ratio < goal else 'MISSED'}"


# 1. Pull of a ~200 MB image


def bench_pull(bench: Bench) -> list[str]:
    ref, engine1 = bench.ref("big"), bench.engines[0]
    path = f"/api/v1/hosts/{bench.setup.host1}/images/pull/"
    jobs: list[JobRun] = []
    direct: dict[str, list[DirectRun]] = {"docker pull": [], "SDK": []}

    def job() -> None:
        jobs.append(run_jobs(bench, lambda: [post_job(bench, path, json={"image": ref})]))

    def docker_pull() -> None:
        direct["docker pull"].append(timed(bench, lambda: cli(bench, "pull", ref)))

    def sdk() -> None:
        direct["SDK"].append(timed(bench, lambda: sdk_pull(engine1, ref)))

    for round_ in range(PULL_ROUNDS):  # ABBA-like: which path goes first alternates
        for measure in (job, docker_pull, sdk) if round_ % 2 == 0 else (sdk, docker_pull, job):
            remove_images(engine1, [ref])
            measure()
    remove_images(engine1, [ref])

    size = sum(layer["total"] for layer in _progress_layers(jobs[-1].job_ids[0]))
    job_wall = median([run.wall for run in jobs])
    cli_wall = median([run.wall for run in direct["docker pull"]])
    sdk_wall = median([run.wall for run in direct["SDK"]])
    phases = {key: median([run.phases()[key] for run in jobs]) for key in jobs[0].phases()}
    ratio = job_wall / cli_wall
    best_job, best_cli = fastest(jobs)[0], fastest(direct["docker pull"])[0]
    return [
        f"1. Pull of a {size / 1e6:.0f} MB image ({BIG_LAYERS} layers) from the registry to engine1 (unix), "
        f"cold each time, median of {PULL_ROUNDS}",
        f"   job (REST POST until succeeded) {job_wall:6.2f} s | docker pull {cli_wall:6.2f} s | "
        f"SDK pull stream {sdk_wall:6.2f} s",
        f"   job = {ratio:.3f}x docker pull ({verdict(ratio, 1.15)}), {job_wall / sdk_wall:.3f}x the SDK; "
        f"median of the per-round ratios {paired(jobs, direct['docker pull']):.3f}x; fastest of each (noise "
        f"only adds time) {best_job:.2f} s against {best_cli:.2f} s = {best_job / best_cli:.3f}x",
        f"   job phases: record made {phases['request']:.0f} ms after the POST was sent (202 after "
        f"{phases['answered']:.0f} ms), a worker started it {phases['dispatch']:.0f} ms later, its run took "
        f"{phases['run']:.2f} s ({phases['run'] / sdk_wall:.3f}x the SDK pull)",
        f"   CPU s (median): job: {cpu_line(jobs)}",
        f"                   docker pull: {cpu_line(direct['docker pull'])}",
        "   every run, s: job "
        + " ".join(f"{run.wall:.2f}" for run in jobs)
        + " | docker pull "
        + " ".join(f"{run.wall:.2f}" for run in direct["docker pull"])
        + " | SDK "
        + " ".join(f"{run.wall:.2f}" for run in direct["SDK"]),
    ]


def _progress_layers(job_id: str) -> list[dict[str, Any]]:
    from images.models import Job

    progress = Job.objects.get(pk=job_id).progress
    return list((progress.get("layers") or {}).values())


# 2. Build of a 10-step Dockerfile


def bench_build(bench: Bench) -> list[str]:
    engine1 = bench.engines[0]
    context = bench.workdir / "build-context"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(BUILD_DOCKERFILE)
    (context / "app.sh").write_text(BUILD_SCRIPT)
    (context / "app.sh").chmod(0o755)
    path = f"/api/v1/hosts/{bench.setup.host1}/images/build/"
    tags = {"job": bench.ref("build-job"), "cli": bench.ref("build-cli")}
    jobs: list[JobRun] = []
    clis: list[DirectRun] = []

    def submit() -> list[str]:
        body = tar_of({name: (context / name).read_bytes() for name in ("Dockerfile", "app.sh")})
        return [
            post_job(
                bench,
                path,
                params={"tags": tags["job"], "nocache": "true"},
                content=body,
                headers={"Content-Type": "application/x-tar"},
            )
        ]

    def job() -> None:
        jobs.append(run_jobs(bench, submit))

    def docker_build() -> None:
        env = {"DOCKER_BUILDKIT": "0"}
        clis.append(
            timed(bench, lambda: cli(bench, "build", "--no-cache", "-t", tags["cli"], str(context), env=env))
        )

    for round_ in range(BUILD_ROUNDS):
        for measure in (job, docker_build) if round_ % 2 == 0 else (docker_build, job):
            remove_images(engine1, list(tags.values()))
            measure()
    remove_images(engine1, list(tags.values()))

    job_wall, cli_wall = median([run.wall for run in jobs]), median([run.wall for run in clis])
    phases = {key: median([run.phases()[key] for run in jobs]) for key in jobs[0].phases()}
    ratio = job_wall / cli_wall
    return [
        f"2. Build of a 10-step Dockerfile (5 RUN, 1 COPY, 200 output lines) on engine1, no cache, classic "
        f"builder, median of {BUILD_ROUNDS}",
        f"   job (REST POST of the context tar until succeeded) {job_wall:6.2f} s | "
        f"DOCKER_BUILDKIT=0 docker build --no-cache {cli_wall:6.2f} s",
        f"   job = {ratio:.3f}x docker build ({verdict(ratio, 1.15)}); median of the per-round ratios "
        f"{paired(jobs, clis):.3f}x; fastest of each (noise only adds time) {fastest(jobs)[0]:.2f} s against "
        f"{fastest(clis)[0]:.2f} s = {fastest(jobs)[0] / fastest(clis)[0]:.3f}x",
        f"   job phases: record made {phases['request']:.0f} ms after the POST was sent (202 after "
        f"{phases['answered']:.0f} ms), a worker started it {phases['dispatch']:.0f} ms later, its run took "
        f"{phases['run']:.2f} s ({phases['run'] / cli_wall:.3f}x docker build)",
        f"   CPU s (median): job: {cpu_line(jobs)}",
        f"                   docker build: {cpu_line(clis)}",
        "   every run, s: job "
        + " ".join(f"{run.wall:.2f}" for run in jobs)
        + " | docker build "
        + " ".join(f"{run.wall:.2f}" for run in clis),
    ]


# 3. 20 pulls on 2 hosts


def max_overlap(records: list[dict[str, Any]], host_id: int) -> int:
    """The most jobs of the host that ran at the same moment (from their started/finished times)."""
    edges = []
    for record in records:
        if record["host_id"] == host_id:
            edges += [(record["started_at"], 1), (record["finished_at"], -1)]
    running = most = 0
    for _, change in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # a finish before a start
        running += change
        most = max(most, running)
    return most


def handoffs(records: list[dict[str, Any]]) -> list[float]:
    """Seconds from a job's finish to the start of the next job that was waiting for that host's slot."""
    gaps = []
    for record in records:
        same_host = [r for r in records if r["host_id"] == record["host_id"] and r is not record]
        freed = [
            r["finished_at"]
            for r in same_host
            if record["created_at"] < r["finished_at"] <= record["started_at"]
        ]
        if freed:
            gaps.append((record["started_at"] - max(freed)).total_seconds())
    return gaps


def seconds(record: dict[str, Any], start: str, end: str) -> float:
    return float((record[end] - record[start]).total_seconds())


def bench_queue(bench: Bench) -> list[str]:
    from images import conf

    refs = [bench.ref(f"small-{n:02d}") for n in range(QUEUE_IMAGES)]
    hosts = [bench.setup.host1, bench.setup.host2]
    host_of = {ref: hosts[n % 2] for n, ref in enumerate(refs)}
    per_host = conf.jobs_per_host()
    jobs: list[JobRun] = []
    directs: list[DirectRun] = []
    pulls: list[float] = []  # every direct pull's own duration

    def submit() -> list[str]:
        return [
            post_job(bench, f"/api/v1/hosts/{host_of[ref]}/images/pull/", json={"image": ref}) for ref in refs
        ]

    def job() -> None:
        jobs.append(run_jobs(bench, submit))

    with host_clients(hosts[0], per_host) as clients1, host_clients(hosts[1], per_host) as clients2:
        clients = {hosts[0]: clients1, hosts[1]: clients2}

        def pull_host(host_id: int) -> None:
            pending = deque(ref for ref in refs if host_of[ref] == host_id)

            def one_at_a_time(client: Any) -> None:
                while True:
                    try:
                        ref = pending.popleft()
                    except IndexError:
                        return
                    started = time.perf_counter()
                    sdk_pull(client, ref)
                    pulls.append(time.perf_counter() - started)

            # One thread per client: `per_host` pulls at a time on this host, as the job slots allow.
            with ThreadPoolExecutor(per_host) as pool:
                for future in [pool.submit(one_at_a_time, client) for client in clients[host_id]]:
                    future.result()

        def direct() -> None:
            def both() -> None:
                with ThreadPoolExecutor(len(hosts)) as pool:
                    for future in [pool.submit(pull_host, host_id) for host_id in hosts]:
                        future.result()

            directs.append(timed(bench, both))

        for round_ in range(QUEUE_ROUNDS):
            for measure in (job, direct) if round_ % 2 == 0 else (direct, job):
                for engine in bench.engines:
                    remove_images(engine, refs)
                measure()
    for engine in bench.engines:
        remove_images(engine, refs)

    job_wall, direct_wall = median([run.wall for run in jobs]), median([run.wall for run in directs])
    ratio = job_wall / direct_wall
    records = [record for run in jobs for record in run.records]
    overlap = max(max_overlap(run.records, host_id) for run in jobs for host_id in hosts)
    posting = median([run.posted - run.sent for run in jobs])
    job_run = median([seconds(record, "started_at", "finished_at") for record in records])
    gaps = handoffs(records) or [float("nan")]
    busy = median(
        [
            sum(seconds(r, "started_at", "finished_at") for r in run.records)
            / (len(hosts) * per_host * run.wall)
            for run in jobs
        ]
    )
    return [
        f"3. {QUEUE_IMAGES} pulls of distinct {SMALL_MB} MB images, {QUEUE_IMAGES // 2} per host "
        f"(engine1 unix, engine2 TCP+TLS), cold each round, median of {QUEUE_ROUNDS} rounds",
        f"   concurrency: {per_host} at a time per host (DOCKERWEB_JOBS_PER_HOST), both hosts at once, on "
        f"both paths; the jobs run on {WORKERS} workers x {WORKER_THREADS} threads, so the per-host limit is "
        "what bounds them, as in production where workers have more threads than the hosts have slots",
        f"   {QUEUE_IMAGES} jobs POSTed one after the other until all succeeded {job_wall:6.2f} s | the same "
        f"pulls direct (SDK) {direct_wall:6.2f} s | jobs = {ratio:.3f}x direct (median of the per-round "
        f"ratios {paired(jobs, directs):.3f}x)",
        f"   POSTing the {QUEUE_IMAGES} jobs took {posting * 1000:.0f} ms; a job's run {job_run:.2f} s "
        f"against {median(pulls):.2f} s for a direct pull (medians); slot hand-off (from a job's finish "
        f"to the start of the host's next waiting job) {median(gaps) * 1000:.0f} ms median, "
        f"{max(gaps) * 1000:.0f} ms max; slots busy {busy:.0%} of the wall time; most jobs running at once "
        f"on one host: {overlap} (limit {per_host})",
        f"   CPU s (median): jobs: {cpu_line(jobs)}",
        f"                   direct: {cpu_line(directs)}",
        "   every round, s: jobs "
        + " ".join(f"{run.wall:.2f}" for run in jobs)
        + " | direct "
        + " ".join(f"{run.wall:.2f}" for run in directs),
    ]


# The run


def warm_up(bench: Bench) -> None:
    """One pull job per host and one direct pull: worker imports, connections, the registry's page cache."""
    refs = [bench.ref("small-00"), bench.ref("small-01")]
    hosts = [bench.setup.host1, bench.setup.host2]
    for engine in bench.engines:
        remove_images(engine, refs)
    run_jobs(
        bench,
        lambda: [
            post_job(bench, f"/api/v1/hosts/{host_id}/images/pull/", json={"image": ref})
            for host_id, ref in zip(hosts, refs, strict=True)
        ],
    )
    for engine in bench.engines:
        remove_images(engine, refs)
    cli(bench, "pull", refs[0])
    remove_images(bench.engines[0], refs)


def main(argv: list[str]) -> None:
    parts = parts_of(argv, PARTS)
    with environment("images") as env:
        import httpx

        redis = env.start_redis()
        setup = setup_database(env.bed)
        workers = env.start_workers("bench-images", WORKERS, WORKER_THREADS)
        server, port = env.start_server()
        engines = env.engine_clients()
        rest = env.stack.enter_context(
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {setup.token}"},
                trust_env=False,
                timeout=120,
            )
        )
        config_dir = env.workdir / "docker-config"
        config_dir.mkdir()
        pids = {
            "workers": workers,
            "uvicorn": [server.pid],
            "redis": [redis.pid],
            "dockerd": [engine.dockerd_pid for engine in env.bed.engines],
        }
        bench = Bench(env.bed, setup, env.workdir, rest, engines, pids, config_dir)
        print(
            f"uvicorn pid {server.pid} on 127.0.0.1:{port}; workers {pids['workers']} "
            f"({WORKERS} x {WORKER_THREADS} threads); data in {env.workdir}",
            flush=True,
        )
        prepare_images(bench, parts)
        warm_up(bench)
        for part in parts:
            report = {"pull": bench_pull, "build": bench_build, "queue": bench_queue}[part](bench)
            print("\n".join(report), flush=True)
            print(f"   (machine now: {uptime()})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
