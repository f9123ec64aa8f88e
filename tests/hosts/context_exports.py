"""`docker context export` files for the tests (no tests here): made by the real docker CLI when the machine
has one, or written the same way (a tar of meta.json and tls/docker/*.pem, without end-of-archive blocks,
as the CLI writes it)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

from hosts.engine.tls import TLSMaterial


def export_bytes(name: str, url: str, tls: TLSMaterial | None = None, description: str = "") -> bytes:
    meta = {
        "Name": name,
        "Metadata": {"Description": description},
        "Endpoints": {"docker": {"Host": url, "SkipTLSVerify": bool(tls and not tls.verify)}},
    }
    files = {"meta.json": json.dumps(meta).encode()}
    if tls is not None:
        files |= {
            f"tls/docker/{key}.pem": pem.encode()
            for key, pem in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key))
            if pem
        }
    return tar_bytes(files).rstrip(b"\0")  # the CLI leaves out the closing zero blocks


def tar_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path, content in files.items():
            member = tarfile.TarInfo(path)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return out.getvalue()


def export_with_cli(docker: str, workdir: Path, name: str, url: str, tls_files: dict[str, str]) -> bytes:
    """`docker context create` + `docker context export` in a private DOCKER_CONFIG."""
    env = {"DOCKER_CONFIG": str(workdir / "docker-config"), "PATH": "/usr/bin:/bin"}
    options = ",".join([f"host={url}", *(f"{key}={path}" for key, path in tls_files.items())])
    subprocess.run(
        [docker, "context", "create", name, "--docker", options], env=env, check=True, capture_output=True
    )
    target = workdir / f"{name}.dockercontext"
    subprocess.run([docker, "context", "export", name, str(target)], env=env, check=True, capture_output=True)
    return target.read_bytes()
