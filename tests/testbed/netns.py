"""Network namespaces and mounts: thin wrappers over `ip` and `umount`."""

from __future__ import annotations

import os
import subprocess

from .procs import SYSTEM_PATH, sweep_netns

NETNS_DIR = "/run/netns"


class CommandError(RuntimeError):
    pass


def run(*argv: str, timeout: float = 30.0) -> str:
    """Run a short command; raise with its stderr if it fails."""
    res = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env={"PATH": SYSTEM_PATH}, check=False
    )
    if res.returncode != 0:
        raise CommandError(f"{' '.join(argv)} -> exit {res.returncode}: {res.stderr.strip()}")
    return res.stdout


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def create_netns(name: str, bridge: str, cidr: str) -> None:
    """A netns with lo up and one bridge (dockerd -b); deliberately no default route."""
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")
    run("ip", "-n", name, "link", "add", bridge, "type", "bridge")
    run("ip", "-n", name, "addr", "add", cidr, "dev", bridge)
    run("ip", "-n", name, "link", "set", bridge, "up")


def delete_netns(name: str) -> None:
    """Kill whatever is still inside, then remove the namespace (its bridge goes with it)."""
    path = netns_path(name)
    if not os.path.exists(path):
        return
    sweep_netns(path)
    run("ip", "netns", "delete", name)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return field.encode().decode("unicode_escape")


def mounts_under(directory: str) -> list[str]:
    """Mount points in our mount namespace at or below directory, deepest first."""
    root = os.path.realpath(directory)
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = _unescape(line.split()[4])
            if point == root or point.startswith(root + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_under(directory: str) -> None:
    """Lazily unmount anything left under directory (never anything outside it)."""
    for point in mounts_under(directory):
        subprocess.run(["umount", "-l", point], capture_output=True, env={"PATH": SYSTEM_PATH}, check=False)
