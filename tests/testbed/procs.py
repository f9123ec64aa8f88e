"""Process bookkeeping: spawn with logs, record pids, stop by pid, find what lives in a netns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass

# Fixed PATH so a stray binary earlier in the caller's PATH never replaces dockerd's helpers.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OWNER_FILE = "owner.json"


def start_time(pid: int) -> int | None:
    """Kernel start time of a pid (clock ticks since boot); None if it is gone.

    Pid + start time identifies a process across pid reuse.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces/parens: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _is_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie is dead, only waiting for its reaper


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until all pids are gone; return the ones still alive at the timeout."""
    remaining = list(pids)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        remaining = [p for p in remaining if not _is_gone(p)]
        if remaining:
            time.sleep(0.05)
    return [p for p in remaining if not _is_gone(p)]


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _parent_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    return children


def with_descendants(pids: Iterable[int]) -> set[int]:
    """The pids plus all their descendants (containers run as children of shims)."""
    children = _parent_map()
    result: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid not in result:
            result.add(pid)
            todo.extend(children.get(pid, []))
    return result


def pids_in_netns(netns_path: str) -> list[int]:
    """Pids whose network namespace is the one bound at netns_path (like `ip netns pids`)."""
    try:
        target = os.stat(netns_path)
    except FileNotFoundError:
        return []
    found = []
    for pid in _all_pids():
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            found.append(pid)
    return found


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def sweep_netns(netns_path: str, timeout: float = 10.0) -> None:
    """SIGKILL everything left in a testbed netns, and their descendants (containers)."""
    pids = with_descendants(pids_in_netns(netns_path))
    pids.discard(os.getpid())
    if pids:
        kill_pids(pids)
        wait_gone(pids, timeout)


@dataclass
class Proc:
    """A process the testbed started (in its own session, so Ctrl-C never reaches it directly)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class ProcessTable:
    """Spawns processes and records them in workdir/owner.json for later stale cleanup."""

    def __init__(self, workdir: str, netns: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.log_dir = os.path.join(workdir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self._lock = threading.Lock()
        self._owner: dict[str, object] = {
            "owner_pid": os.getpid(),
            "owner_start": start_time(os.getpid()),
            "netns": list(netns),
            "procs": [],
        }
        self._save()

    def _save(self) -> None:
        path = os.path.join(self.workdir, OWNER_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self._owner, fh)
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written owner file

    def add_netns(self, name: str) -> None:
        with self._lock:
            netns = self._owner["netns"]
            assert isinstance(netns, list)
            netns.append(name)
            self._save()

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        log_path = os.path.join(self.log_dir, f"{name}.log")
        full_env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", **(env or {})}
        with open(log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
                close_fds=True,
            )
        with self._lock:
            procs = self._owner["procs"]
            assert isinstance(procs, list)
            procs.append({"name": name, "pid": popen.pid, "start": start_time(popen.pid)})
            self._save()
        return Proc(name, popen, log_path)


def stop_proc(proc: Proc, *, timeout: float = 10.0, whole_group: bool = True) -> None:
    """SIGTERM, wait, SIGKILL.

    whole_group also signals the process group the process leads (socat's forked children). It is only
    done while the leader is unreaped, so the group id cannot have been reused by someone else.
    """
    if proc.popen.poll() is not None:
        return
    _signal(proc, signal.SIGTERM, whole_group)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL, whole_group)
        proc.popen.wait(5)


def _signal(proc: Proc, sig: int, whole_group: bool) -> None:
    with suppress(ProcessLookupError):
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)


class Cleanup:
    """LIFO stack of teardown callbacks; runs each at most once and keeps going past failures."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def push(self, what: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append((what, callback))

    def run(self) -> list[str]:
        while True:
            with self._lock:
                if not self._callbacks:
                    return self.errors
                what, callback = self._callbacks.pop()
            try:
                callback()
            except Exception as exc:  # teardown must go on; report at the end
                self.errors.append(f"{what}: {exc!r}")
