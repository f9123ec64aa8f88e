"""Serializers for teams, grants, the caller's own roles, and the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from hosts.models import AuditEntry, Grant, Host, Role, Team

User = get_user_model()


class TeamSerializer(serializers.ModelSerializer[Team]):
    members = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), many=True, required=False, help_text="Usernames"
    )

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = ["id", "created_at"]


class GrantSerializer(serializers.ModelSerializer[Grant]):
    user = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), required=False, allow_null=True
    )
    host = serializers.SlugRelatedField(
        slug_field="name", queryset=Host.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Grant
        fields = ["id", "user", "team", "host", "host_label", "role", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {
            field: attrs.get(field, getattr(self.instance, field, None)) for field in ("user", "team", "host")
        }
        label = attrs.get("host_label", getattr(self.instance, "host_label", ""))
        if bool(merged["user"]) == bool(merged["team"]):
            raise serializers.ValidationError({"user": "Give exactly one of user or team."})
        if bool(merged["host"]) == bool(label):
            raise serializers.ValidationError({"host": "Give exactly one of host or host_label."})
        if label and ("__" in label.partition("=")[0] or not label.partition("=")[0]):
            raise serializers.ValidationError(
                {"host_label": "Use key or key=value (keys may not contain '__')."}
            )
        return attrs


class HostRoleSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()
    teams = serializers.ListField(child=serializers.CharField())
    token = serializers.DictField(allow_null=True, help_text="The token used for this call and its scope")
    hosts = HostRoleSerializer(many=True)


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "username",
            "token_name",
            "source_ip",
            "entry_point",
            "host_name",
            "action",
            "method",
            "path",
            "object_id",
            "object_name",
            "request_body",
            "outcome",
            "status_code",
            "detail",
            "duration_ms",
        ]
        read_only_fields = fields
