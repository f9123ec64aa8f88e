"""Images have owners: which tags a call would overwrite, and whose they are.

Ownership of an image, as the policy reads it (the Facts answer it, hosts/facts.py):
- its owner labels (`dockerweb.owner.*` in the image config): a commit inherits them from the container
  (the policy makes sure that container is the caller's), a build through dockerweb gets them from the
  `labels` query the caller may not set them in;
- or, for a tag, the containers created from that tag: if another team's container was created from
  `app:1`, moving `app:1` would swap what their next re-create (compose up, a restart policy's re-create)
  runs, so the tag is theirs too.

Tag, commit, build `-t`, import and load may not move a tag another team holds; push and tag honour
`allowed_registries`; exporting (`docker save`) an image whose owner labels name another team needs a host
admin. A host admin is not subject to the policy at all.

`images/load` takes a tar stream: `tags_in_image_tar` reads the tags it would create from the spooled tar, so
the caller can run `check_tag_targets` on them before sending the tar on.
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
from typing import IO, Any

from .base import Denied, as_map, as_str, ci_get, parse_json_body, query_values, reject_duplicates
from .references import Facts, is_owner_label, refuse_owner_labels
from .settings import PolicySettings, normalize_image

_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
_MAX_MANIFEST_BYTES = 4 << 20
# The names a load reads tags from: docker's manifest.json, the legacy `repositories` file, and the OCI
# index.json that the containerd image store reads (its annotations name the image).
_MANIFEST, _REPOSITORIES, _OCI_INDEX = "manifest.json", "repositories", "index.json"
_OCI_NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


def normalize_reference(ref: str) -> str:
    """'app' -> 'docker.io/library/app:latest'; ids and digests are kept as they are."""
    if _IMAGE_ID.fullmatch(ref):
        return ref
    name, at, digest = ref.partition("@")
    if at:
        return f"{normalize_image(name)}@{digest}"
    colon = name.rfind(":")
    tag = name[colon + 1 :] if colon > name.rfind("/") else "latest"
    return f"{normalize_image(name)}:{tag}"


def repo_tag_targets(query: dict[str, list[str]], repo_key: str = "repo", tag_key: str = "tag") -> list[str]:
    """The tags `repo`/`tag` query parameters name (httputils.RepoTagReference), for every value sent."""
    repos = [repo for repo in query_values(query, repo_key) if repo]
    tags = query_values(query, tag_key) or [""]
    targets = []
    for repo in repos:
        for tag in tags:
            targets.append(f"{normalize_image(repo)}:{tag}" if tag else normalize_reference(repo))
    return targets


def check_tag_targets(targets: list[str], field: str, settings: PolicySettings | None, facts: Facts) -> None:
    """Deny moving a tag another team holds; with `settings`, also a tag outside the allowed registries
    (`docker tag`; a commit, build, import or load names local images, which allowed_registries stops at
    run and push)."""
    for target in targets:
        if settings is not None and not settings.image_allowed(target):
            raise Denied(
                "registry",
                field,
                f"{target!r} is not in an allowed registry ({', '.join(settings.allowed_registries)}).",
            )
        other = facts.tag_owned_by_others(target)
        if other is not None:
            raise Denied(
                "image-not-owned",
                field,
                f"The tag {target!r} belongs to {other}; choose another name, or ask a host admin.",
            )


def check_image_tag(name: str, query: dict[str, list[str]], settings: PolicySettings, facts: Facts) -> None:
    """`POST /images/{name}/tag?repo=&tag=`: not over another team's tag, and not another team's image
    under a new name (which a push then takes anywhere: an export by another route)."""
    other = facts.image_owned_by_others(name)
    if other is not None:
        raise Denied(
            "image-not-owned",
            "name",
            f"Image {name!r} belongs to {other}; tag your own images, or ask a host admin.",
        )
    check_tag_targets(repo_tag_targets(query), "repo", settings, facts)


def check_image_push(name: str, query: dict[str, list[str]], settings: PolicySettings, facts: Facts) -> None:
    """`POST /images/{name}/push[?tag=]`: an allowed registry, and not another team's image."""
    if not settings.image_allowed(name):
        raise Denied(
            "registry",
            "name",
            f"Pushing {name!r} is not allowed: it is not in an allowed registry "
            f"({', '.join(settings.allowed_registries)}).",
        )
    for tag in query_values(query, "tag") or [""]:
        ref = f"{normalize_image(name)}:{tag}" if tag else name
        other = facts.image_owned_by_others(ref)
        if other is not None:
            raise Denied("image-not-owned", "name", f"{ref!r} belongs to {other}; push your own images.")


def check_image_export(names: list[str], field: str, facts: Facts) -> None:
    """`GET /images/{name}/get`, `GET /images/get?names=`: another team's image is exported by an admin."""
    for name in names:
        other = facts.image_owned_by_others(name)
        if other is not None:
            raise Denied(
                "image-export-not-owned",
                field,
                f"Image {name!r} belongs to {other}; exporting it needs a host admin.",
            )


def check_image_remove(name: str, facts: Facts) -> None:
    """`DELETE /images/{name}`: untagging a tag another team holds is moving it too."""
    other = facts.tag_owned_by_others(name)
    if other is not None:
        raise Denied(
            "image-not-owned", "name", f"The tag {name!r} belongs to {other}; remove your own images."
        )


_LABEL_INSTRUCTION = re.compile(r"(?im)^\s*label\b")


def check_changes(query: dict[str, list[str]]) -> None:
    """Commit's and import's `changes` (Dockerfile instructions): no owner labels, however spelled.

    The engine joins the values with newlines and parses them as a Dockerfile, so a LABEL may be continued
    on the next value, quoted, escaped, or take its key from a variable: an owner-label prefix anywhere after
    removing quotes and escapes, or a LABEL with a `$`, is refused.
    """
    text = "\n".join(query_values(query, "changes"))
    plain = re.sub(r"[\\\"'\s]", "", text).lower()
    if "dockerweb.owner." in plain:
        raise Denied("owner-label", "changes", "Owner labels are set by dockerweb, not by callers.")
    if "$" in text and _LABEL_INSTRUCTION.search(text.replace("\\\n", " ")):
        raise Denied(
            "owner-label",
            "changes",
            "A LABEL in changes may not use variables here; write the label key and value out.",
        )


def check_commit(
    query: dict[str, list[str]],
    raw_body: bytes,
    content_type: str | None,
    facts: Facts,
) -> None:
    """`POST /commit?container=&repo=&tag=&changes=` with an optional container config as the body."""
    for ref in query_values(query, "container"):
        if not ref or not facts.owns_container(ref.removeprefix("/")):
            raise Denied("container-not-owned", "container", f"Container {ref!r} is not yours to commit.")
    check_changes(query)
    if raw_body.strip() not in (b"", b"null"):
        config = parse_json_body(raw_body, content_type)
        refuse_owner_labels(as_map(ci_get(config, "Labels"), "Labels"), "Labels")
    check_tag_targets(repo_tag_targets(query), "repo", None, facts)


def check_build_tags(query: dict[str, list[str]], facts: Facts) -> None:
    """`POST /build`: `t` tags another team holds are not moved; `labels` carries no owner labels."""
    for raw in query_values(query, "labels"):
        if raw:
            try:
                labels = json.loads(raw)
            except ValueError:
                raise Denied("bad-json", "labels", "labels is not a JSON object.") from None
            refuse_owner_labels(as_map(labels, "labels"), "labels")
    check_tag_targets([normalize_reference(tag) for tag in query_values(query, "t") if tag], "t", None, facts)


def check_image_import(query: dict[str, list[str]], facts: Facts) -> None:
    """`POST /images/create?fromSrc=-&repo=&tag=&changes=`: an import creates a tag like a commit does."""
    if not any(source == "-" for source in query_values(query, "fromsrc")):
        # A pull: the registry's image under the registry's own name (allowed_registries says which).
        return
    check_changes(query)
    check_tag_targets(repo_tag_targets(query), "repo", None, facts)


# -- images/load


def tags_in_image_tar(fileobj: IO[bytes]) -> list[str]:
    """The tags `POST /images/load` would create from this tar (image_tags_in_tar without the ids)."""
    return list(image_tags_in_tar(fileobj))


def image_tags_in_tar(fileobj: IO[bytes]) -> dict[str, str]:
    """The tags `POST /images/load` would create from this tar (plain or gzip/bzip2/xz compressed), each
    with the image id it would name ("" where the archive does not say: legacy and OCI layouts).

    Read as dockerd reads it after extracting the tar (paths cleaned, the last entry of a name wins):
    manifest.json's RepoTags, else the legacy `repositories` file; an OCI index.json's image-name
    annotations too. A manifest that is a link, not valid JSON, or too large is refused (Denied), as is a
    stream that is not a tar: the engine would read it some other way than we did.
    """
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as archive:
            files: dict[str, tarfile.TarInfo] = {}
            for member in archive:
                name = posixpath.normpath("/" + member.name).lstrip("/")
                if name in (_MANIFEST, _REPOSITORIES, _OCI_INDEX):
                    files[name] = member
            documents = {name: _read_member(archive, member) for name, member in files.items()}
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise Denied("bad-image-archive", "body", f"The image archive cannot be read: {exc}.") from None
    tags: list[tuple[str, str]] = []
    if _MANIFEST in documents:
        for item in _json_list(documents[_MANIFEST], _MANIFEST):
            entry = _json_object(item, _MANIFEST)
            # "Config": "<hex>.json", the image's config, whose digest is the image id.
            config = posixpath.basename(as_str(ci_get(entry, "Config"), _MANIFEST))
            image_id = f"sha256:{config.removesuffix('.json')}" if config.endswith(".json") else ""
            for tag in _strings(ci_get(entry, "RepoTags"), _MANIFEST):
                tags.append((tag, image_id))
    elif _REPOSITORIES in documents:
        repositories = _json_object(_parse(documents[_REPOSITORIES], _REPOSITORIES), _REPOSITORIES)
        for repo, by_tag in repositories.items():
            tags.extend((f"{repo}:{tag}", "") for tag in _json_object(by_tag, _REPOSITORIES))
    if _OCI_INDEX in documents:
        index = _json_object(_parse(documents[_OCI_INDEX], _OCI_INDEX), _OCI_INDEX)
        for descriptor in _json_list(ci_get(index, "manifests"), _OCI_INDEX):
            annotations = as_map(ci_get(_json_object(descriptor, _OCI_INDEX), "annotations"), _OCI_INDEX)
            for key in _OCI_NAME_ANNOTATIONS:
                value = as_str(annotations.get(key), _OCI_INDEX)
                # ref.name is often only a tag ("1.0"); only a full reference names a tag to check.
                if value and ("/" in value or ":" in value):
                    tags.append((value, ""))
    return {normalize_reference(tag): image_id for tag, image_id in tags}


def check_loaded_tags(tags: list[str], facts: Facts) -> None:
    """`POST /images/load`: the tags of `tags_in_image_tar` may not be another team's."""
    check_tag_targets(tags, "body", None, facts)


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if not member.isfile():
        raise Denied(
            "bad-image-archive", "body", f"{member.name} in the image archive is not a regular file."
        )
    if member.size > _MAX_MANIFEST_BYTES:
        raise Denied("bad-image-archive", "body", f"{member.name} in the image archive is too large.")
    extracted = archive.extractfile(member)
    assert extracted is not None  # a regular file
    return extracted.read()


def _parse(raw: bytes, name: str) -> Any:
    try:
        # Two keys that fold alike (RepoTags, repotags) would be read by Go as one: refuse, as for bodies.
        return json.loads(raw.decode("utf-8"), object_pairs_hook=reject_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Denied("bad-image-archive", "body", f"{name} in the image archive is not valid JSON.") from None


def _json_list(value: Any, name: str) -> list[Any]:
    value = _parse(value, name) if isinstance(value, bytes) else value
    if value is None:
        return []
    if not isinstance(value, list):
        raise Denied("bad-image-archive", "body", f"{name} in the image archive is not a JSON array.")
    return value


def _json_object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Denied(
            "bad-image-archive", "body", f"{name} in the image archive has an entry of the wrong type."
        )
    return value


def _strings(value: Any, name: str) -> list[str]:
    items = _json_list(value, name)
    if not all(isinstance(item, str) for item in items):
        raise Denied(
            "bad-image-archive", "body", f"{name} in the image archive has a tag that is not a string."
        )
    return items


__all__ = [
    "check_build_tags",
    "check_changes",
    "check_commit",
    "check_image_export",
    "check_image_import",
    "check_image_push",
    "check_image_remove",
    "check_image_tag",
    "check_loaded_tags",
    "check_tag_targets",
    "is_owner_label",
    "normalize_reference",
    "repo_tag_targets",
    "tags_in_image_tar",
]
