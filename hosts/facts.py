"""Facts about objects on one engine that ownership checks and the admission policy need (hosts.policy.Facts).

One SDK client per admission, opened on first use; each object is inspected at most once per admission.
Nothing here decides: ownership is hosts.access.owns(), the rules are hosts.policy's; this module only asks
the engine. A reference outside the engine's grammar (hosts.engine.request) is never looked up: it names no
object, so nothing is found and nothing is owned.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import docker
import docker.errors

from hosts import access
from hosts.access import Caller
from hosts.engine import EngineTarget, open_engine
from hosts.engine.client import send_json
from hosts.engine.errors import ambiguous_prefix
from hosts.engine.request import BadReference, EngineRequest, Kind, check_reference
from hosts.models import Host
from hosts.policy import (
    OWNER_TEAM_LABEL,
    OWNER_USER_LABEL,
    NetworkFacts,
    Ownership,
    is_owner_label,
    normalize_reference,
)

# The inspect route of each kind of object a lookup asks about (anything else: an image).
_INSPECT = {
    "containers": "/containers/{container}/json",
    "exec": "/exec/{exec}/json",
    "networks": "/networks/{network}",
    "volumes": "/volumes/{volume}",
    "images": "/images/{image}/json",
}
_MISSING: dict[str, Any] = {}  # cached "no such object"


class EngineLookups:
    """Facts about objects on one engine, for ownership and the policy; one SDK client per admission."""

    def __init__(self, who: Caller, host: Host) -> None:
        self.who, self.host = who, host
        self._stack = ExitStack()
        self._client: docker.DockerClient | None = None
        self._inspected: dict[tuple[str, str], dict[str, Any]] = {}
        self._containers: list[dict[str, Any]] | None = None

    def close(self) -> None:
        self._stack.close()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = self._stack.enter_context(open_engine(EngineTarget.of(self.host)))
        return self._client

    def _inspect(self, kind: str, ref: str) -> dict[str, Any] | None:
        """The engine's inspect of one object, or None when there is no such object (or no such name)."""
        key = (kind, ref)
        if key not in self._inspected:
            self._inspected[key] = self._ask(kind, ref)
        found = self._inspected[key]
        return None if found is _MISSING else found

    def _ask(self, kind: str, ref: str) -> dict[str, Any]:
        try:
            request = EngineRequest.build("GET", _INSPECT.get(kind, _INSPECT["images"]), ref)
        except BadReference:
            return _MISSING
        try:
            found: dict[str, Any] = send_json(self.client, request)
        except docker.errors.NotFound:
            return _MISSING
        except docker.errors.APIError as exc:
            if ambiguous_prefix(str(exc.explanation or exc)) is not None:
                # Worded as admission words a hidden object: whether other objects share the prefix is not
                # for a caller below admin to learn (admins get the engine's own answer, a 400).
                raise access.AccessDenied(f"No such {kind.rstrip('s')}: {ref}", not_found=True) from None
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                # The engine cannot read the reference (a digest of the wrong length, say): nor can we.
                raise BadReference(kind.rstrip("s"), str(exc.explanation or exc)) from None
            raise
        return found

    def labels_of(self, kind: str, ref: str) -> dict[str, str] | None:
        """The object's labels, or None when the engine knows no such object."""
        if kind == "exec":
            found = self._inspect("exec", ref)
            if found is None:
                return None
            kind, ref = "containers", found["ContainerID"]
        found = self._inspect(kind, ref)
        if found is None:
            return None
        if kind == "containers":
            return (found.get("Config") or {}).get("Labels") or {}
        return found.get("Labels") or {}

    def _ownership(self, labels: dict[str, str]) -> Ownership:
        if not labels.get(OWNER_USER_LABEL) and not labels.get(OWNER_TEAM_LABEL):
            return Ownership.SHARED if self.host.unowned_access else Ownership.OTHERS
        return Ownership.MINE if access.owns(self.who, self.host, labels) else Ownership.OTHERS

    def _other_owner(self, labels: dict[str, str]) -> str | None:
        """How to name the owner of an object the caller may not use; None when they may."""
        if self._ownership(labels).usable:
            return None
        team, user = labels.get(OWNER_TEAM_LABEL), labels.get(OWNER_USER_LABEL)
        if team:
            return f"team {team!r}"
        return f"user {user!r}" if user else "no team (unowned objects are the host admins')"

    # hosts.policy.Facts
    def owns_container(self, ref: str) -> bool:
        labels = self.labels_of("containers", ref)
        return labels is not None and access.owns(self.who, self.host, labels)

    def owns_exec(self, exec_id: str) -> bool:
        labels = self.labels_of("exec", exec_id)
        return labels is not None and access.owns(self.who, self.host, labels)

    def volume_has_driver_opts(self, name: str) -> bool:
        volume = self._inspect("volumes", name)
        if volume is None:
            return False
        return bool(volume.get("Options")) or volume.get("Driver", "local") != "local"

    def container_ownership(self, ref: str) -> Ownership | None:
        labels = self.labels_of("containers", ref)
        return None if labels is None else self._ownership(labels)

    def container_inspect(self, ref: str) -> dict[str, Any] | None:
        return self._inspect("containers", ref)

    def volume_ownership(self, name: str) -> Ownership | None:
        labels = self.labels_of("volumes", name)
        return None if labels is None else self._ownership(labels)

    def create_owned_volume(self, name: str, labels: dict[str, str]) -> Ownership:
        check_reference(Kind.VOLUME, name)  # the policy checked the name; never create what we can't name
        owner = access.owner_labels(self.who, self.host)
        owner.setdefault(OWNER_TEAM_LABEL, "")  # as on every object dockerweb creates
        wanted = {k: v for k, v in labels.items() if not is_owner_label(k)} | owner
        # The engine answers an existing volume of this name unchanged (a race with another creator).
        created = self.client.api.create_volume(name, driver="local", labels=wanted)
        self._inspected[("volumes", name)] = created
        return self._ownership(created.get("Labels") or {})

    def image_id(self, reference: str) -> str | None:
        """The id of the image `reference` names, or None when there is none."""
        image = self._inspect("images", reference)
        return None if image is None else str(image.get("Id") or "")

    def network(self, ref: str) -> NetworkFacts | None:
        found = self._inspect("networks", ref)
        if found is None:
            return None
        ownership = self._ownership(found.get("Labels") or {})
        return NetworkFacts(str(found.get("Name") or ""), str(found.get("Driver") or ""), ownership)

    def image_owned_by_others(self, reference: str) -> str | None:
        image = self._inspect("images", reference)
        if image is None:
            return None
        labels = (image.get("Config") or {}).get("Labels") or {}
        if not labels.get(OWNER_USER_LABEL) and not labels.get(OWNER_TEAM_LABEL):
            return None  # pulled or loaded images carry no owner: anyone's to use
        return self._other_owner(labels)

    def tag_owned_by_others(self, reference: str) -> str | None:
        other = self.image_owned_by_others(reference)
        if other is not None:
            return other
        wanted = normalize_reference(reference)
        # Containers created from the tag: the list shows the reference they were created from while it
        # still names their image (a tag moved since shows the image id there, and is no longer theirs).
        if self._containers is None:
            self._containers = self.client.api.containers(all=True)
        for container in self._containers:
            created_from = container.get("Image") or ""
            if created_from and normalize_reference(created_from) == wanted:
                other = self._other_owner(container.get("Labels") or {})
                if other is not None:
                    return other
        return None
