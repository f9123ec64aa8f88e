"""Facts about objects on one engine that ownership checks and the admission policy need (hosts.policy.Facts).

One SDK client per admission, opened on first use. Nothing here decides: ownership is hosts.access.owns(),
the rules are hosts.policy's; this module only asks the engine.
"""

from __future__ import annotations

from contextlib import ExitStack

import docker
import docker.errors

from hosts import access
from hosts.access import Caller
from hosts.engine import EngineTarget, open_engine
from hosts.models import Host


class EngineLookups:
    """Facts about objects on one engine, for ownership and the policy; one SDK client per admission."""

    def __init__(self, who: Caller, host: Host) -> None:
        self.who, self.host = who, host
        self._stack = ExitStack()
        self._client: docker.DockerClient | None = None

    def close(self) -> None:
        self._stack.close()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = self._stack.enter_context(open_engine(EngineTarget.of(self.host)))
        return self._client

    def labels_of(self, kind: str, ref: str) -> dict[str, str] | None:
        """The object's labels, or None when the engine knows no such object."""
        api = self.client.api
        try:
            if kind == "containers":
                return api.inspect_container(ref)["Config"].get("Labels") or {}
            if kind == "exec":
                container = api.exec_inspect(ref)["ContainerID"]
                return api.inspect_container(container)["Config"].get("Labels") or {}
            if kind == "networks":
                return api.inspect_network(ref).get("Labels") or {}
            return api.inspect_volume(ref).get("Labels") or {}
        except docker.errors.NotFound:
            return None

    # hosts.policy.Facts
    def owns_container(self, ref: str) -> bool:
        labels = self.labels_of("containers", ref)
        return labels is not None and access.owns(self.who, self.host, labels)

    def owns_exec(self, exec_id: str) -> bool:
        labels = self.labels_of("exec", exec_id)
        return labels is not None and access.owns(self.who, self.host, labels)

    def volume_has_driver_opts(self, name: str) -> bool:
        try:
            volume = self.client.api.inspect_volume(name)
        except docker.errors.NotFound:
            return False
        return bool(volume.get("Options")) or volume.get("Driver", "local") != "local"
