"""`python -m tests.testbed`: start the testbed, print its addresses as env lines, wait for Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType

from . import Testbed, start_testbed, stop_testbed, testbed_unavailable_reason


def _env_lines(tb: Testbed) -> list[str]:
    ca, cert, key = tb.engine1.client_tls.write_files(os.path.join(tb.workdir, "client-tls"))
    wrong_ca = os.path.join(tb.workdir, "client-tls", "wrong-ca.pem")
    with open(wrong_ca, "w") as fh:
        fh.write(tb.wrong_ca_pem)
    lines = []
    for engine in tb.engines:
        prefix = f"DOCKERWEB_TESTBED_{engine.name.upper()}"
        lines += [f"{prefix}_URL={engine.unix_url}", f"{prefix}_TLS_URL={engine.tls_url}"]
    lines += [
        f"DOCKERWEB_TESTBED_TLS_CA={ca}",
        f"DOCKERWEB_TESTBED_TLS_CERT={cert}",
        f"DOCKERWEB_TESTBED_TLS_KEY={key}",
        f"DOCKERWEB_TESTBED_WRONG_CA={wrong_ca}",
        f"DOCKERWEB_TESTBED_REGISTRY={tb.registry}",
        f"DOCKERWEB_TESTBED_REGISTRY_URL={tb.registry_url}",
        f"DOCKERWEB_TESTBED_IMAGES={','.join(tb.images)}",
        f"DOCKERWEB_TESTBED_WORKDIR={tb.workdir}",
    ]
    return lines


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally below, unlike SIGTERM's default action


def main() -> int:
    reason = testbed_unavailable_reason()
    if reason:
        print(f"testbed unavailable: {reason}", file=sys.stderr)
        return 2
    # Explicit for SIGINT too: a shell starts background jobs with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_on_signal)
    began = time.monotonic()
    tb = start_testbed()
    try:
        print(f"# testbed started in {time.monotonic() - began:.1f}s; Ctrl-C to stop", file=sys.stderr)
        print("\n".join(_env_lines(tb)), flush=True)
        while True:
            signal.pause()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        began = time.monotonic()
        stop_testbed(tb)
        print(f"# testbed stopped in {time.monotonic() - began:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
