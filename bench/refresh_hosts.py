"""Benchmark: refreshing 50 hosts (40 healthy, 5 closed ports, 5 silent listeners) vs one healthy host.

Everything is real: the testbed's two engines (unix socket and TCP+TLS), a private Redis, a Celery worker
started as `make run` starts it, and the beat task `hosts.refresh_all_hosts`. Prints the figures and the
ratios the foundation issue asks for:

- all 50 done within read timeout + 3 x (one healthy host's refresh), and
- every healthy snapshot saved before the dead hosts time out;
- one host's refresh through the worker against a direct engine probe (docker info + version), same run.

Run: `make bench` (root, with the test packages installed).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path, where bench/containers.py and bench/images.py
    # would shadow the apps; the project root belongs there instead.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import environment, free_port, median, setup_django  # noqa: E402 (after the path fix)


class SilentListener:
    """Accepts connections and never answers: the worst kind of dead host."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return


def checked_after(host_ids: list[int], since: object) -> set[int]:
    from hosts.models import Host

    return set(Host.objects.filter(pk__in=host_ids, last_checked_at__gt=since).values_list("pk", flat=True))


def run_refresh(host_ids: list[int], healthy_ids: list[int]) -> tuple[float, float]:
    """Trigger the beat task; return (seconds until all healthy saved, seconds until all saved)."""
    from django.utils import timezone

    from hosts.tasks import refresh_all_hosts

    since = timezone.now()
    started = time.monotonic()
    refresh_all_hosts.delay()
    healthy_done = 0.0
    while True:
        done = checked_after(host_ids, since)
        now = time.monotonic() - started
        if not healthy_done and set(healthy_ids) <= done:
            healthy_done = now
        if len(done) == len(host_ids):
            return healthy_done, now
        if now > 120:
            raise SystemExit("refresh did not finish within 120 s")
        time.sleep(0.005)


def main() -> None:
    queue = f"dockerweb-bench-{os.getpid()}"
    with environment("refresh-hosts", show_load=False, DOCKERWEB_CELERY_QUEUE=queue) as env:
        env.start_redis()
        setup_django()
        from django.conf import settings

        from hosts.engine import EngineTarget
        from hosts.models import Host
        from hosts.services import probe_engine

        env.start_workers("bench", threads=16, loglevel="WARNING")
        bed = env.bed
        tls = bed.engine1.client_tls
        targets = []
        for index in range(40):
            engine = bed.engine1 if index % 2 == 0 else bed.engine2
            if index % 4 < 2:
                targets.append({"name": f"healthy-{index}", "url": engine.unix_url})
            else:
                targets.append({"name": f"healthy-{index}", "url": engine.tls_url, "tls_ca": tls.ca_pem,
                                "tls_cert": tls.cert_pem, "tls_key": tls.key_pem})  # fmt: skip
        listeners = [SilentListener() for _ in range(5)]
        dead = [{"name": f"closed-{i}", "url": f"tcp://127.0.0.1:{free_port()}"} for i in range(5)]
        dead += [
            {"name": f"silent-{i}", "url": f"tcp://127.0.0.1:{lst.port}"} for i, lst in enumerate(listeners)
        ]

        one = Host.objects.create(**targets[0])
        # One healthy host alone, through the same worker path; repeated, median taken.
        run_refresh([one.pk], [one.pk])  # warm-up: worker imports, connections
        single = median([run_refresh([one.pk], [one.pk])[1] for _ in range(7)])
        direct_times = []
        for _ in range(7):
            started = time.monotonic()
            probe_engine(EngineTarget.of(one))
            direct_times.append(time.monotonic() - started)
        direct = median(direct_times)

        healthy = [one] + [Host.objects.create(**spec) for spec in targets[1:]]
        dead_hosts = [Host.objects.create(**spec) for spec in dead]
        all_ids = [h.pk for h in healthy + dead_hosts]
        healthy_ids = [h.pk for h in healthy]
        # Cold: no host checked yet. Warm: the next beat round, when the dead hosts are known to be down.
        rounds = {"cold": run_refresh(all_ids, healthy_ids), "warm": run_refresh(all_ids, healthy_ids)}

        statuses = dict(Host.objects.values_list("name", "status"))
        wrong = [name for name, status in statuses.items() if (status == "up") != name.startswith("healthy")]
        read_timeout = settings.ENGINE_READ_TIMEOUT
        goal = read_timeout + 3 * single
        print(f"one healthy host, direct engine probe (info+version):   {direct * 1000:8.1f} ms")
        print(f"one healthy host, refresh through beat task + worker:   {single * 1000:8.1f} ms "
              f"({single / direct:.2f}x direct)")  # fmt: skip
        print(f"goal for 50 hosts: read timeout {read_timeout:g} s + 3 x one host = {goal:.3f} s")
        for name, (healthy_done, all_done) in rounds.items():
            print(
                f"50 hosts, {name} round: 40 healthy saved after {healthy_done * 1000:7.1f} ms "
                f"({healthy_done / single:.1f}x one host), all 50 after {all_done * 1000:8.1f} ms "
                f"= {all_done / goal:.3f}x the goal ({'met' if all_done <= goal else 'MISSED'}); "
                f"healthy saved before the dead timed out: {'yes' if healthy_done < read_timeout else 'NO'}"
            )
        print(f"status mismatches: {wrong or 'none'}")


if __name__ == "__main__":
    main()
