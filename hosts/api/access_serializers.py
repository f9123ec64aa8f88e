"""Serializers for teams, grants, the caller's own roles, and the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
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


class UserSerializer(serializers.ModelSerializer[Any]):
    """A dockerweb user. The password is write-only and checked by Django's password validators."""

    password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        help_text="Set or change the password",
    )
    teams: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True, source="dockerweb_teams"
    )

    class Meta:
        model = User
        fields = [
            "id", "username", "email", "first_name", "last_name", "is_active", "is_superuser", "password",
            "teams", "last_login", "date_joined",
        ]  # fmt: skip
        read_only_fields = ["id", "last_login", "date_joined", "teams"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": "A new user needs a password."})
        if attrs.get("password"):
            # Checked against the user as it will be, so "too similar to the username" applies to new users.
            names = ("username", "email", "first_name", "last_name")
            subject = User(**{name: attrs.get(name, getattr(self.instance, name, "")) for name in names})
            try:
                password_validation.validate_password(attrs["password"], subject)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        request = self.context.get("request")
        if self.instance is not None and request is not None and self.instance.pk == request.user.pk:
            # Nobody locks themselves out: another administrator has to do it.
            if attrs.get("is_active") is False:
                raise serializers.ValidationError({"is_active": "You cannot deactivate yourself."})
            if attrs.get("is_superuser") is False:
                raise serializers.ValidationError(
                    {"is_superuser": "You cannot remove your own administrator right."}
                )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Any:
        password = validated_data.pop("password")
        user = User(**validated_data)
        user.is_staff = user.is_superuser  # the Django admin follows the dockerweb administrator right
        user.set_password(password)
        user.save()
        return user

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        password = validated_data.pop("password", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        instance.is_staff = instance.is_superuser
        if password:
            instance.set_password(password)
        instance.save()
        return instance


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
    can_manage_inventory = serializers.BooleanField(
        help_text="May add hosts, manage users, teams, grants and registries, and read the whole audit log "
        "(an administrator whose token does not cap that right)"
    )
    teams = serializers.ListField(child=serializers.CharField())
    token = serializers.DictField(allow_null=True, help_text="The token used for this call and its scope")
    hosts = HostRoleSerializer(many=True)


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "started_at",
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
