"""Real, isolated Docker engines and a private registry for the test session.

Two dockerd 20.10 engines, each in its own network namespace (own bridge, no default route, proxies
pointing at a closed port), reachable on a unix socket and on a host 127.0.0.1 port with mutual TLS;
one Distribution registry on the host's 127.0.0.1 that the engines reach as ``localhost:<port>``.
Everything lives in a fresh temp dir and is torn down even if start-up or the tests fail.

    tb = start_testbed()
    try: ...
    finally: stop_testbed(tb)
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import images, netns, pki, stale
from .engine import EngineConfig, EngineControl, TLSFiles
from .procs import SYSTEM_PATH, Cleanup, ProcessTable
from .registry import Registry, free_port

__all__ = [
    "ClientTLS",
    "Engine",
    "Testbed",
    "TestbedUnavailable",
    "start_testbed",
    "stop_testbed",
    "testbed_unavailable_reason",
]

REQUIRED_TOOLS = ("dockerd", "docker-registry", "socat", "ip", "nsenter", "unshare", "mount")
KEEP_LOGS_ENV = "DOCKERWEB_TESTBED_LOGS"  # if set: copy the process logs there at teardown
_seq = itertools.count(1)  # lets one process start several testbeds without name clashes


class TestbedUnavailable(RuntimeError):
    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class ClientTLS:
    ca_pem: str = field(repr=False)
    cert_pem: str = field(repr=False)
    key_pem: str = field(repr=False)

    def write_files(self, directory: str) -> tuple[str, str, str]:
        """Write ca.pem, cert.pem, key.pem (0600) into directory; return their paths in that order."""
        return (
            pki.write_pem(directory, "ca.pem", self.ca_pem),
            pki.write_pem(directory, "cert.pem", self.cert_pem),
            pki.write_pem(directory, "key.pem", self.key_pem, private=True),
        )


@dataclass
class Engine:
    name: str
    netns: str
    socket_path: str
    unix_url: str
    tls_url: str
    tls_port: int
    client_tls: ClientTLS
    bridge: str
    dockerd_pid: int
    _control: EngineControl | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Stop this engine only; its unix socket and TLS port then refuse connections."""
        assert self._control is not None
        self._control.stop()

    def start(self) -> None:
        """Start it again with the same config, sockets and port; return once it answers."""
        assert self._control is not None
        self._control.start()
        assert self._control.dockerd is not None
        self.dockerd_pid = self._control.dockerd.pid


@dataclass
class Testbed:
    __test__ = False

    engine1: Engine
    engine2: Engine
    registry: str
    registry_url: str
    images: list[str]
    wrong_ca_pem: str = field(repr=False)
    workdir: str
    _cleanup: Cleanup = field(default_factory=Cleanup, repr=False, compare=False)

    @property
    def engines(self) -> list[Engine]:
        return [self.engine1, self.engine2]


def testbed_unavailable_reason() -> str | None:
    """One line saying why the testbed cannot run here, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "the Docker testbed needs Linux"
    if os.geteuid() != 0:
        return "the Docker testbed needs root (network namespaces, dockerd)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool, path=SYSTEM_PATH) is None]
    if missing:
        hint = "Debian: docker.io docker-registry socat iproute2"
        return f"the Docker testbed needs {', '.join(missing)} ({hint})"
    if not os.access(images.BUSYBOX, os.X_OK):
        return f"the Docker testbed needs {images.BUSYBOX} (Debian: busybox-static)"
    return None


def start_testbed() -> Testbed:
    """Start both engines and the registry, build the test images; clean up everything on failure."""
    reason = testbed_unavailable_reason()
    if reason:
        raise TestbedUnavailable(reason)
    stale.cleanup_stale()
    workdir = tempfile.mkdtemp(prefix=stale.DIR_PREFIX, dir=stale.base_dir())
    cleanup = Cleanup()
    cleanup.push("remove workdir", lambda: _remove_workdir(workdir))
    atexit.register(cleanup.run)  # last resort if the caller never reaches stop_testbed
    try:
        return _start(workdir, cleanup)
    except BaseException:
        cleanup.run()
        atexit.unregister(cleanup.run)
        raise


def stop_testbed(tb: Testbed) -> None:
    """Tear everything down; raise (after doing all of it) if some step failed."""
    errors = tb._cleanup.run()
    atexit.unregister(tb._cleanup.run)
    if errors:
        raise RuntimeError("testbed teardown problems: " + "; ".join(errors))


def _start(workdir: str, cleanup: Cleanup) -> Testbed:
    procs = ProcessTable(workdir)
    ca, wrong_ca = pki.make_ca(), pki.make_ca("dockerweb testbed UNRELATED CA")
    client = pki.issue_client(ca)
    client_tls = ClientTLS(ca.cert_pem, client.cert_pem, client.key_pem)
    client_files = TLSFiles(*client_tls.write_files(os.path.join(workdir, "pki")))

    registry = Registry(procs, workdir)
    cleanup.push("stop registry", registry.stop)
    seq = _next_seq()
    controls: list[EngineControl] = []
    # One callback over the growing list: a half-made engine is destroyed too, both in parallel.
    cleanup.push("destroy engines", lambda: _in_parallel([ctl.destroy for ctl in controls]))
    for n in (1, 2):
        ctl = _engine_control(n, seq, workdir, procs, ca, client_files)
        controls.append(ctl)
        ctl.create_netns()
        ctl.spawn_dockerd()
    registry.start()  # while the dockerds boot
    for ctl in controls:
        ctl.registry_port = registry.port
        ctl.spawn_bridges()
    _in_parallel([ctl.wait_ready for ctl in controls])

    context = images.make_context(os.path.join(workdir, "image-context"))
    images.build_and_push(_unix_url(controls[0]), context, registry.address)
    images.pull_and_tag(_unix_url(controls[1]), registry.address)

    engine1, engine2 = (_engine(ctl, client_tls) for ctl in controls)
    return Testbed(
        engine1=engine1,
        engine2=engine2,
        registry=registry.address,
        registry_url=f"http://127.0.0.1:{registry.port}",
        images=images.image_names(registry.address),
        wrong_ca_pem=wrong_ca.cert_pem,
        workdir=workdir,
        _cleanup=cleanup,
    )


def _next_seq() -> int:
    """A sequence number whose netns names are free (a dead run with our pid may have left some)."""
    while True:
        seq = next(_seq)
        names = (stale.netns_name(os.getpid(), seq, n) for n in (1, 2))
        if not any(os.path.exists(netns.netns_path(name)) for name in names):
            return seq


def _engine_control(
    n: int, seq: int, workdir: str, procs: ProcessTable, ca: pki.Authority, client: TLSFiles
) -> EngineControl:
    name = f"engine{n}"
    directory = os.path.join(workdir, name)
    server = pki.issue_server(ca, f"dockerweb testbed {name}")
    server_files = TLSFiles(
        ca=client.ca,
        cert=pki.write_pem(directory, "server-cert.pem", server.cert_pem),
        key=pki.write_pem(directory, "server-key.pem", server.key_pem, private=True),
    )
    cfg = EngineConfig(
        name=name,
        netns=stale.netns_name(os.getpid(), seq, n),
        bridge=stale.bridge_name(os.getpid(), seq, n),
        cidr=f"172.31.{250 + n}.1/24",  # distinct per engine; each lives in its own netns anyway
        directory=directory,
        tls_port=free_port(),
        registry_bridge_socket=os.path.join(workdir, "registry-bridge.sock"),
        server_tls=server_files,
        client_tls=client,
    )
    return EngineControl(cfg, procs)


def _unix_url(ctl: EngineControl) -> str:
    return f"unix://{ctl.socket_path}"


def _engine(ctl: EngineControl, client_tls: ClientTLS) -> Engine:
    assert ctl.dockerd is not None
    return Engine(
        name=ctl.cfg.name,
        netns=ctl.cfg.netns,
        socket_path=ctl.socket_path,
        unix_url=_unix_url(ctl),
        tls_url=f"tcp://127.0.0.1:{ctl.cfg.tls_port}",
        tls_port=ctl.cfg.tls_port,
        client_tls=client_tls,
        bridge=ctl.cfg.bridge,
        dockerd_pid=ctl.dockerd.pid,
        _control=ctl,
    )


def _in_parallel(calls: list[Callable[[], None]]) -> None:
    """Run calls concurrently; raise one error naming every failure."""
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    errors = [str(f.exception()) for f in futures if f.exception() is not None]
    if errors:
        raise RuntimeError("\n\n".join(errors))


def _remove_workdir(workdir: str) -> None:
    keep = os.environ.get(KEEP_LOGS_ENV)
    if keep:
        shutil.copytree(os.path.join(workdir, "logs"), os.path.join(keep, os.path.basename(workdir)))
    netns.unmount_under(workdir)
    shutil.rmtree(workdir)
