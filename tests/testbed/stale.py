"""Naming scheme and cleanup of leftovers from earlier, killed testbed runs.

Only things matching our own scheme are touched, and only when their owner process is dead:
  * work dirs  <tmp>/dockerweb-testbed-*  holding an owner.json (owner pid + start time, pids, netns)
  * netns      dw<ownerpid>-<seq>e<n>      (bridges live inside them and go with them)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass

from . import netns
from .procs import OWNER_FILE, kill_pids, start_time, wait_gone

DIR_PREFIX = "dockerweb-testbed-"
NETNS_RE = re.compile(r"^dw(\d+)-(\d+)e(\d+)$")


def netns_name(owner_pid: int, seq: int, engine: int) -> str:
    name = f"dw{owner_pid}-{seq}e{engine}"
    assert NETNS_RE.match(name) and len(name) <= 15, name  # IFNAMSIZ-safe, and matches the cleaner
    return name


def bridge_name(owner_pid: int, seq: int, engine: int) -> str:
    name = f"dw{owner_pid}-{seq}b{engine}"
    assert len(name) <= 15, name
    return name


def base_dir() -> str:
    # Unix socket paths (ours and containerd's inside exec-root) must stay well under 108 bytes.
    tmp = tempfile.gettempdir()
    return tmp if len(tmp) <= 40 else "/tmp"


def _alive(pid: int, start: int | None = None) -> bool:
    now = start_time(pid)
    return now is not None and (start is None or now == start)


@dataclass(frozen=True)
class _Owner:
    pid: int
    start: int | None
    procs: list[tuple[int, int | None]]
    netns: list[str]


def _read_owner(directory: str) -> _Owner | None:
    try:
        with open(os.path.join(directory, OWNER_FILE)) as fh:
            data = json.load(fh)
        return _Owner(
            pid=int(data["owner_pid"]),
            start=data.get("owner_start"),
            procs=[(int(p["pid"]), p.get("start")) for p in data.get("procs", [])],
            netns=[str(n) for n in data.get("netns", [])],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _clean_dir(directory: str, owner: _Owner) -> None:
    pids = [pid for pid, start in owner.procs if _alive(pid, start)]  # start time guards pid reuse
    kill_pids(pids)
    wait_gone(pids, 10)
    for name in owner.netns:
        if NETNS_RE.match(name):
            with suppress(Exception):
                netns.delete_netns(name)
    netns.unmount_under(directory)
    shutil.rmtree(directory, ignore_errors=True)


def cleanup_stale() -> list[str]:
    """Remove leftovers of dead earlier runs; return what was cleaned (for logs)."""
    cleaned: list[str] = []
    base = base_dir()
    for entry in sorted(os.listdir(base)):
        directory = os.path.join(base, entry)
        if not entry.startswith(DIR_PREFIX) or not os.path.isdir(directory):
            continue
        owner = _read_owner(directory)
        if owner is None or _alive(owner.pid, owner.start):
            continue  # not ours to judge, or its owner still runs
        _clean_dir(directory, owner)
        cleaned.append(directory)
    # Namespaces whose work dir is already gone.
    if os.path.isdir(netns.NETNS_DIR):
        for name in sorted(os.listdir(netns.NETNS_DIR)):
            match = NETNS_RE.match(name)
            if match and not _alive(int(match.group(1))):
                with suppress(Exception):
                    netns.delete_netns(name)
                    cleaned.append(f"netns {name}")
    return cleaned
