"""Serializers for hosts and tokens. TLS material is write-only: no response ever contains it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from hosts.api.limits import RoleCeilingField
from hosts.contexts import MAX_EXPORT_BYTES
from hosts.models import HOST_NAME_VALIDATOR, ApiToken, Host
from hosts.policy import PolicySettings, PolicySettingsError

SNAPSHOT_FIELDS = [
    "status",
    "status_error",
    "last_checked_at",
    "engine_id",
    "engine_version",
    "api_version",
    "os_type",
    "operating_system",
    "architecture",
    "kernel_version",
    "ncpu",
    "mem_total",
    "containers_running",
    "containers_paused",
    "containers_stopped",
    "images",
]


class LabelsField(serializers.DictField):
    child = serializers.CharField(max_length=255, allow_blank=True)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value: dict[str, str] = super().to_internal_value(data)
        for key in value:
            if not key or len(key) > 100:
                raise serializers.ValidationError("Label keys must be 1-100 characters.")
        return value


class HostSerializer(serializers.ModelSerializer[Host]):
    tls_ca = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    tls_cert = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    tls_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        style={"input_type": "password"},
    )
    labels = LabelsField(required=False)
    has_tls_ca = serializers.SerializerMethodField()
    has_tls_client_cert = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Host
        fields = [
            "id",
            "name",
            "url",
            "tls_ca",
            "tls_cert",
            "tls_key",
            "tls_verify",
            "has_tls_ca",
            "has_tls_client_cert",
            "labels",
            "policy",
            "unowned_access",
            "created_by",
            "created_at",
            "updated_at",
            *SNAPSHOT_FIELDS,
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at", *SNAPSHOT_FIELDS]
        # Name uniqueness is checked by the service (also against races), with one message; its form here,
        # so that a bad name and a bad address are both reported at once.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": [HOST_NAME_VALIDATOR]}}

    def validate_policy(self, value: Any) -> dict[str, Any]:
        """Admission policy settings for the host, stored as given: unset keys follow the defaults."""
        try:
            PolicySettings.from_dict(value or {})
        except PolicySettingsError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return dict(value or {})

    def get_has_tls_ca(self, host: Host) -> bool:
        return bool(host.tls_ca)

    def get_has_tls_client_cert(self, host: Host) -> bool:
        return bool(host.tls_cert)


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    expires_in_days = serializers.IntegerField(
        write_only=True, required=False, min_value=1, max_value=3650, help_text="Alternative to expires_at."
    )
    scope_hosts = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Host name patterns (e.g. staging-*) the token is limited to; empty: every host.",
    )
    max_role = RoleCeilingField(
        required=False, help_text="The strongest role the token carries on any host; empty: no cap."
    )
    default_host = serializers.CharField(
        source="default_host.name",
        required=False,
        allow_null=True,
        help_text="Host name for BuildKit's path-less /grpc and /session calls through the gateway.",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id", "name", "created_at", "expires_at", "expires_in_days", "last_used_at",
            "scope_hosts", "max_role", "default_host",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "last_used_at"]
        # The per-user uniqueness of names is checked in validate_name (the user is not a field).
        validators: list[Any] = []

    def validate_name(self, name: str) -> str:
        user = self.context["request"].user
        if ApiToken.objects.filter(user=user, name=name).exists():
            raise serializers.ValidationError(f"You already have a token named {name!r}.")
        return name

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = attrs.pop("expires_in_days", None)
        if days is not None:
            if attrs.get("expires_at"):
                raise serializers.ValidationError(
                    {"expires_in_days": "Give expires_at or expires_in_days, not both."}
                )
            attrs["expires_at"] = timezone.now() + timedelta(days=days)
        expires_at = attrs.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise serializers.ValidationError({"expires_at": "The expiry must be in the future."})
        return attrs


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself; shown only in this response.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class EngineInfoSerializer(serializers.Serializer[dict[str, Any]]):
    info = serializers.DictField(help_text="`docker info` as the engine reports it")
    version = serializers.DictField(help_text="`docker version` (server part)")


class PingSerializer(serializers.Serializer[dict[str, Any]]):
    ok = serializers.BooleanField()
    api_version = serializers.CharField()
    latency_ms = serializers.FloatField()


class ContextImportSerializer(serializers.Serializer[dict[str, Any]]):
    contexts = serializers.ListField(
        child=serializers.FileField(max_length=255),
        min_length=1,
        max_length=50,
        help_text="Files written by `docker context export NAME FILE` (multipart, the field repeated)",
    )

    def validate_contexts(self, files: list[Any]) -> list[Any]:
        for upload in files:
            if upload.size > MAX_EXPORT_BYTES:
                raise serializers.ValidationError(
                    f"{upload.name} is {upload.size} bytes; a context export is at most {MAX_EXPORT_BYTES}."
                )
        return files


class ContextImportResultSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(help_text="The context's name (empty if it could not be read)")
    file = serializers.CharField(help_text="The uploaded file it came from")
    outcome = serializers.ChoiceField(choices=["added", "skipped", "failed"])
    message = serializers.CharField()
    host = HostSerializer(allow_null=True)


class ContextImportReportSerializer(serializers.Serializer[dict[str, Any]]):
    results = ContextImportResultSerializer(many=True)
