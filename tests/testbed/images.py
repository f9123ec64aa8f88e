"""Test images: build a busybox image on engine1, push it to the registry, pull it on engine2.

Pulling (rather than building twice) gives both engines the very same image ID, and proves at start-up
that the registry bridge works from inside the engines' namespaces.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker

BUSYBOX = "/bin/busybox"
LOCAL_TAG = "dwtest/busybox:latest"
_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
"""
API_VERSION = "1.41"  # dockerd 20.10; pinning skips the SDK's version round-trip


def make_context(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(directory, "busybox"))
    with open(os.path.join(directory, "Dockerfile"), "w") as fh:
        fh.write(_DOCKERFILE)
    return directory


@contextmanager
def _client(unix_url: str) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=unix_url, version=API_VERSION, timeout=120)
    try:
        yield client
    finally:
        client.close()


def _check_stream(what: str, events: Any) -> None:
    # push/pull report failures inside the JSON stream, not as HTTP errors.
    for event in events:
        if isinstance(event, dict) and event.get("error"):
            raise RuntimeError(f"{what}: {event['error']}")


def remote_tags(registry: str) -> list[str]:
    return [f"{registry}/busybox:1", f"{registry}/busybox:latest"]


def build_and_push(unix_url: str, context: str, registry: str) -> None:
    with _client(unix_url) as client:
        image, _ = client.images.build(path=context, tag=LOCAL_TAG, rm=True, forcerm=True)
        for ref in remote_tags(registry):
            repo, tag = ref.rsplit(":", 1)
            image.tag(repo, tag)
            _check_stream(f"push {ref}", client.api.push(repo, tag=tag, stream=True, decode=True))


def pull_and_tag(unix_url: str, registry: str) -> None:
    with _client(unix_url) as client:
        first, *others = remote_tags(registry)
        repo, tag = first.rsplit(":", 1)
        _check_stream(f"pull {first}", client.api.pull(repo, tag=tag, stream=True, decode=True))
        image = client.images.get(first)
        for ref in [LOCAL_TAG, *others]:
            image.tag(*ref.rsplit(":", 1))


def image_names(registry: str) -> list[str]:
    return [LOCAL_TAG, *remote_tags(registry)]
