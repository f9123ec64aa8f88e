"""Serializers for images, jobs and registries. Job parameters are validated here into the exact params a
job stores (never a secret: credentials come from the Registry at run time)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from hosts.engine.client import validate_address, validate_registry_server
from hosts.models import Team
from images.models import Job, JobKind, Registry

# distribution/reference: lowercase path components, optional registry host[:port], tag or digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?/)"
REPOSITORY = re.compile(rf"^{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
REFERENCE_HELP = "repository[:tag], e.g. localhost:5000/web:1"


def check_reference(value: str, *, allow_digest: bool = True) -> str:
    """An image reference as the engine accepts it; the message says what is wrong."""
    value = value.strip()
    name, at, digest = value.partition("@")
    if at and (not allow_digest or not DIGEST.match(digest)):
        raise serializers.ValidationError(
            "A digest is sha256:<64 hex digits>." if allow_digest else "Give a tag."
        )
    repository, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        repository, tag = name, ""
    if not REPOSITORY.match(repository):
        raise serializers.ValidationError(
            f"{repository!r} is not a valid repository name (lowercase letters, digits, '.', '_', '-', '/')."
        )
    if tag and not TAG.match(tag):
        raise serializers.ValidationError(f"{tag!r} is not a valid tag.")
    return value


class ReferenceField(serializers.CharField):
    def __init__(self, *, allow_digest: bool = True, **kwargs: Any) -> None:
        self.allow_digest = allow_digest
        kwargs.setdefault("max_length", 512)
        kwargs.setdefault("help_text", REFERENCE_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return check_reference(super().to_internal_value(data), allow_digest=self.allow_digest)


class JsonMapField(serializers.DictField):
    """A string-to-string map, given as an object or (in a multipart form) as JSON text."""

    def __init__(self, *, trim: bool = True, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(allow_blank=True, trim_whitespace=trim), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, str):
            try:
                data = json.loads(data or "{}")
            except ValueError as exc:
                raise serializers.ValidationError('Give a JSON object such as {"NAME": "value"}.') from exc
        return dict(super().to_internal_value(data))


class RegistryChoiceMixin(serializers.Serializer[dict[str, Any]]):
    registry = serializers.IntegerField(
        required=False, allow_null=True, help_text="Registry id whose credentials to use (default: matching)"
    )


class PullSerializer(RegistryChoiceMixin):
    image = ReferenceField(help_text="What to pull: repository[:tag|@digest] (default tag: latest)")
    platform = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def params(self) -> dict[str, Any]:
        data = self.validated_data
        return {"image": data["image"], **({"platform": data["platform"]} if data.get("platform") else {})}


class PushSerializer(RegistryChoiceMixin):
    image = ReferenceField(allow_digest=False, help_text="Where to push: registry/repository[:tag]")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Declared here: a class attribute named `source` would shadow Field.source for type checkers.
        fields["source"] = ReferenceField(
            required=False, allow_blank=True, help_text="Tag this local image as `image` first"
        )
        return fields

    def params(self) -> dict[str, Any]:
        data = self.validated_data
        return {"image": data["image"], **({"source": data["source"]} if data.get("source") else {})}


class CommitSerializer(serializers.Serializer[dict[str, Any]]):
    container = serializers.RegexField(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=128)
    image = ReferenceField(allow_digest=False, required=False, allow_blank=True, help_text="repository[:tag]")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    author = serializers.CharField(required=False, allow_blank=True, max_length=200)
    changes = serializers.ListField(
        child=serializers.CharField(max_length=1000),
        required=False,
        max_length=50,
        help_text='Dockerfile instructions to apply, e.g. ["CMD [\\"sh\\"]", "ENV A=1"]',
    )
    pause = serializers.BooleanField(default=True, help_text="Pause the container while committing")

    def validate_changes(self, value: list[str]) -> list[str]:
        allowed = {
            "CMD",
            "ENTRYPOINT",
            "ENV",
            "EXPOSE",
            "ONBUILD",
            "USER",
            "VOLUME",
            "WORKDIR",
            "LABEL",
            "STOPSIGNAL",
        }
        for change in value:
            if change.split(maxsplit=1)[0].upper() not in allowed if change.strip() else True:
                raise serializers.ValidationError(f"{change!r}: use one of {', '.join(sorted(allowed))}.")
        return value

    def params(self) -> dict[str, Any]:
        return {key: value for key, value in self.validated_data.items() if value not in ("", None, [])}


class BuildSerializer(serializers.Serializer[dict[str, Any]]):
    """One of: `context` (a tar, optionally gzip), `dockerfile_text` (plus `files`), or `git_url`."""

    dockerfile_text = serializers.CharField(required=False, max_length=256 * 1024, trim_whitespace=False)
    files = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Files placed in the context by their names"
    )
    file_texts = JsonMapField(
        trim=False, required=False, help_text='Context files as text: {"app/run.sh": "..."}'
    )
    git_url = serializers.CharField(required=False, max_length=1000, help_text="A git URL the engine fetches")
    dockerfile = serializers.CharField(required=False, allow_blank=True, max_length=255)
    tags = serializers.ListField(child=ReferenceField(allow_digest=False), required=False, max_length=20)
    buildargs = JsonMapField(required=False)
    labels = JsonMapField(required=False)
    target = serializers.CharField(required=False, allow_blank=True, max_length=128)
    nocache = serializers.BooleanField(default=False)
    pull = serializers.BooleanField(default=False, help_text="Always pull newer FROM images")
    networkmode = serializers.CharField(required=False, allow_blank=True, max_length=128)
    platform = serializers.CharField(required=False, allow_blank=True, max_length=64)
    push = serializers.BooleanField(default=False, help_text="Push every tag when the build succeeds")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Declared here: a class attribute named `context` would shadow Serializer.context.
        fields["context"] = serializers.FileField(
            required=False, help_text="The build context: a tar, optionally gzip"
        )
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if hasattr(data, "getlist"):  # multipart: repeated fields are lists
            plain = {key: data.get(key) for key in data}
            for key in ("tags", "files"):
                if key in data:
                    plain[key] = data.getlist(key)
            data = plain
        return dict(super().to_internal_value(data))

    def validate_git_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http", "git", "ssh") and not value.startswith("git@"):
            raise serializers.ValidationError("Give a git URL (https://..., git://..., git@host:repo).")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("context", "dockerfile_text", "git_url") if attrs.get(name)]
        if self.context.get("raw_context"):
            given.append("body")
        if len(given) != 1:
            raise serializers.ValidationError(
                {"context": "Give exactly one of context (a tar upload), dockerfile_text, or git_url."}
            )
        if (attrs.get("files") or attrs.get("file_texts")) and not attrs.get("dockerfile_text"):
            raise serializers.ValidationError({"files": "Files go with dockerfile_text."})
        if attrs.get("push") and not attrs.get("tags"):
            raise serializers.ValidationError({"push": "Name at least one tag to push."})
        return attrs

    def params(self) -> dict[str, Any]:
        data = self.validated_data
        params: dict[str, Any] = {
            "tags": data.get("tags") or [],
            "nocache": data["nocache"],
            "pull": data["pull"],
            "push": data["push"],
            "context_kind": "dockerfile"
            if data.get("dockerfile_text")
            else "git"
            if data.get("git_url")
            else "upload",
        }
        for name in ("dockerfile", "target", "networkmode", "platform", "buildargs", "labels"):
            if data.get(name):
                params[name] = data[name]
        if data.get("git_url"):
            params["remote"] = data["git_url"]
        if data.get("dockerfile_text"):
            params["dockerfile"] = data.get("dockerfile") or "Dockerfile"
        return params


class JobCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """`POST /jobs/`: a kind, a host, and that kind's parameters (a build: dockerfile_text or git_url)."""

    kind = serializers.ChoiceField(choices=JobKind.choices)
    host = serializers.IntegerField()
    params = serializers.DictField(help_text="The fields of the kind's action endpoint")


class JobSerializer(serializers.Serializer[Job]):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    status = serializers.CharField()
    host = serializers.IntegerField()
    host_name = serializers.CharField()
    user = serializers.CharField()
    registry = serializers.IntegerField(allow_null=True)
    params = serializers.DictField()
    progress = serializers.DictField()
    result = serializers.DictField()
    error = serializers.CharField(help_text="The engine's message when the job failed")
    attempts = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    seq = serializers.IntegerField(help_text="Grows with every change")

    def to_representation(self, instance: Job) -> dict[str, Any]:
        from images.services.jobs import job_state

        return job_state(instance)


class ImageSummarySerializer(serializers.Serializer[dict[str, Any]]):
    host = serializers.IntegerField()
    host_name = serializers.CharField()
    id = serializers.CharField()
    short_id = serializers.CharField()
    repo_tags = serializers.ListField(child=serializers.CharField())
    repo_digests = serializers.ListField(child=serializers.CharField())
    size = serializers.IntegerField()
    created = serializers.CharField(allow_null=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    dangling = serializers.BooleanField()
    containers = serializers.ListField(
        child=serializers.DictField(), help_text="Containers using it you may see"
    )
    containers_hidden = serializers.IntegerField(help_text="Containers using it you may not see")


class TagSerializer(serializers.Serializer[dict[str, Any]]):
    repository = serializers.CharField(max_length=512)
    tag = serializers.CharField(default="latest", max_length=128)

    def validate_repository(self, value: str) -> str:
        if not REPOSITORY.match(value):
            raise serializers.ValidationError(
                f"{value!r} is not a valid repository name (lowercase letters, digits, '.', '_', '-', '/')."
            )
        return value

    def validate_tag(self, value: str) -> str:
        if not TAG.match(value):
            raise serializers.ValidationError(f"{value!r} is not a valid tag.")
        return value


class PruneSerializer(serializers.Serializer[dict[str, Any]]):
    dangling = serializers.BooleanField(default=True, help_text="false: every image no container uses")


class RegistrySerializer(serializers.ModelSerializer[Registry]):
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}, max_length=10000
    )
    has_password = serializers.SerializerMethodField()
    address = serializers.CharField(read_only=True)
    teams = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), many=True, required=False
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Registry
        fields = [
            "id",
            "name",
            "url",
            "server",
            "address",
            "username",
            "password",
            "has_password",
            "tls_verify",
            "tls_ca",
            "teams",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_has_password(self, obj: Registry) -> bool:
        return bool(obj.password)

    def validate_url(self, value: str) -> str:
        try:
            return validate_address(value, "registry")
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_server(self, value: str) -> str:
        if not value:
            return value
        try:
            return validate_registry_server(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_tls_ca(self, value: str) -> str:
        if value.strip() and "BEGIN CERTIFICATE" not in value:
            raise serializers.ValidationError("Give a PEM certificate (-----BEGIN CERTIFICATE-----).")
        return value
