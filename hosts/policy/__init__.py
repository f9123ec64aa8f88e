"""Admission policy for requests that create or change engine objects, for users below `admin` on a host.

Every entry point (REST, websocket, Celery job, the Docker-protocol gateway) calls it; it is pure logic:
what it must know about the engine (who owns a container or an exec, which volume has driver options) it
asks the caller's `Facts`. A denial is a `Denied` (rule, field, message) that the caller turns into a 403.

- base: `Denied`, safe JSON parsing, case-insensitive keys matched the way Go's encoding/json matches them.
- settings: `PolicySettings` (per host, admin-editable) and the path/image/capability normalizations.
- containers: container create/update and exec checks, and the `Facts` protocol.
- objects: volume, network, build and image-import checks, and the owner labels.
- references: volumes, networks and containers named inside bodies (create, connect, start), `Ownership`.
- images: tags a call would move (tag, commit, build, import, load), push and export; `tags_in_image_tar`.
- router: `check_request`, the route table for raw API calls through the gateway.

Not covered here: who may act on an existing object (hosts/access.py: start, stop, logs, archive, attach,
delete...); image provenance (a build's FROM and
`images/load` bring in any image under any name, so `allowed_registries` constrains names, not content);
symlinks inside an allowed bind prefix (a container that can write there can plant `x -> /`, and a later
bind of `<prefix>/x` mounts the host root: allow only trees no container can write to).
"""

from __future__ import annotations

from .base import MAX_BODY_BYTES, Denied, ci_get, fold_key, parse_json_body
from .containers import Facts, check_container_create, check_container_update, check_exec_create
from .images import check_loaded_tags, image_tags_in_tar, normalize_reference, tags_in_image_tar
from .objects import (
    OWNER_TEAM_LABEL,
    OWNER_USER_LABEL,
    apply_owner_labels,
    check_build,
    check_image_create,
    check_network_create,
    check_volume_create,
)
from .references import NetworkFacts, Ownership, check_start_references, is_owner_label, refuse_owner_labels
from .router import body_needed, canonical_path, check_request
from .settings import (
    DEFAULT_CAPABILITIES,
    DEFAULT_SYSCTLS,
    NEVER_CAPABILITIES,
    PolicySettings,
    PolicySettingsError,
    normalize_host_path,
    normalize_image,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_SYSCTLS",
    "MAX_BODY_BYTES",
    "NEVER_CAPABILITIES",
    "OWNER_TEAM_LABEL",
    "OWNER_USER_LABEL",
    "Denied",
    "Facts",
    "NetworkFacts",
    "Ownership",
    "PolicySettings",
    "PolicySettingsError",
    "apply_owner_labels",
    "body_needed",
    "canonical_path",
    "check_build",
    "check_container_create",
    "check_container_update",
    "check_exec_create",
    "check_image_create",
    "check_loaded_tags",
    "check_network_create",
    "check_request",
    "check_start_references",
    "check_volume_create",
    "ci_get",
    "fold_key",
    "image_tags_in_tar",
    "is_owner_label",
    "normalize_host_path",
    "normalize_image",
    "normalize_reference",
    "parse_json_body",
    "refuse_owner_labels",
    "tags_in_image_tar",
]
