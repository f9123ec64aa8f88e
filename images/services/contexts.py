"""Build contexts on disk: an uploaded tar (optionally compressed) kept as sent, or a tar made from a
Dockerfile text plus files. They wait in the upload directory for the worker, which streams them to the
engine; nothing is held whole in memory."""

from __future__ import annotations

import asyncio
import contextlib
import io
import posixpath
import tarfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from images import conf

CHUNK = 256 * 1024
# Magic numbers of what the engine's /build accepts besides a plain tar: gzip, bzip2, xz.
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class ContextError(ValueError):
    """A build context that cannot be used; `field` names the request field, `status` the HTTP status."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StoredContext:
    name: str  # file name in the upload directory
    size: int


def path_of(name: str) -> Path:
    return conf.upload_dir() / Path(name).name


def remove(name: str) -> None:
    if name:
        with contextlib.suppress(FileNotFoundError):
            path_of(name).unlink()


def exists(name: str) -> bool:
    return bool(name) and path_of(name).is_file()


def _too_large(field: str) -> ContextError:
    limit = conf.max_upload_bytes()
    return ContextError(
        field, f"The upload is larger than this server's limit of {limit // (1024 * 1024)} MiB.", status=413
    )


def check_declared_size(length: str | int | None, field: str) -> None:
    """Refuse early when the request says it is too large (Content-Length)."""
    try:
        declared = int(length or 0)
    except ValueError:
        return
    if declared > conf.max_upload_bytes():
        raise _too_large(field)


def store_upload(chunks: Iterable[bytes], field: str = "context") -> StoredContext:
    """Write an uploaded context as it arrives, up to the size limit; it must be a tar (maybe compressed)."""
    name = f"{uuid.uuid4().hex}.context"
    path = path_of(name)
    size = 0
    limit = conf.max_upload_bytes()
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(field)
                out.write(chunk)
        _check_archive(path, field)
    except BaseException:
        remove(name)
        raise
    return StoredContext(name, size)


def _check_archive(path: Path, field: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(512)
    if not head:
        raise ContextError(field, "The build context is empty; send a tar archive (optionally gzip).")
    if head.startswith(_COMPRESSED):
        return
    if len(head) < 512 or head[257:262] != b"ustar":
        raise ContextError(field, "The build context is not a tar archive (optionally gzip-compressed).")


def clean_member_path(raw: str, field: str) -> str:
    """A relative path inside the context, refused when it is absolute or climbs out with '..'."""
    cleaned = posixpath.normpath(raw.replace("\\", "/"))
    if not raw or raw.startswith("/") or cleaned == "." or cleaned.startswith(".."):
        raise ContextError(field, f"{raw!r} is not a relative path inside the build context.")
    return cleaned


def store_dockerfile(
    dockerfile: str, files: Mapping[str, IO[bytes] | bytes], dockerfile_name: str = "Dockerfile"
) -> StoredContext:
    """A context tar with the Dockerfile text and the given files (path -> bytes or an open file)."""
    name = f"{uuid.uuid4().hex}.context"
    path = path_of(name)
    limit = conf.max_upload_bytes()
    try:
        with tarfile.open(path, "w") as tar:
            _add(tar, dockerfile_name, io.BytesIO(dockerfile.encode()), len(dockerfile.encode()))
            for member, content in files.items():
                target = clean_member_path(member, "files")
                if isinstance(content, bytes):
                    _add(tar, target, io.BytesIO(content), len(content))
                else:
                    content.seek(0, io.SEEK_END)
                    size = content.tell()
                    content.seek(0)
                    _add(tar, target, content, size)
                if path.stat().st_size > limit:
                    raise _too_large("files")
    except BaseException:
        remove(name)
        raise
    return StoredContext(name, path.stat().st_size)


def _add(tar: tarfile.TarFile, name: str, content: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = int(time.time())
    tar.addfile(info, content)


async def stream(name: str) -> AsyncIterator[bytes]:
    """The stored context in chunks, read without blocking the event loop."""
    fh = await asyncio.to_thread(path_of(name).open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk
    finally:
        fh.close()


def expired(names: Iterable[str], older_than: float) -> list[str]:
    """Those of `names` whose file is older than `older_than` seconds."""
    cutoff = time.time() - older_than
    return [name for name in names if exists(name) and path_of(name).stat().st_mtime < cutoff]
