"""REST views for teams, grants, the caller's roles (`me`) and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hosts import access, visibility
from hosts.api.access_serializers import (
    AuditEntrySerializer,
    GrantSerializer,
    MeSerializer,
    TeamSerializer,
    UserSerializer,
)
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.models import AuditEntry, Grant, Team

User = get_user_model()


class ManagesInventory(permissions.BasePermission):
    """Writes need hosts.access's inventory right; reads are scoped by each view's queryset."""

    message = "Only administrators may manage users, teams and grants."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS and not getattr(view, "admin_only", False):
            return True
        return access.can_manage_inventory(request_caller(request))


class TeamViewSet(AuditedMixin, viewsets.ModelViewSet[Team]):
    """Teams. Administrators manage them; everyone else sees the teams they belong to."""

    serializer_class = TeamSerializer
    permission_classes = [permissions.IsAuthenticated, ManagesInventory]

    def get_queryset(self) -> QuerySet[Team]:
        who = request_caller(self.request)
        teams = Team.objects.prefetch_related("members")
        return teams if access.can_manage_inventory(who) else teams.filter(members=who.user.pk)


class UserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the username or email")
    team = django_filters.CharFilter(field_name="dockerweb_teams__name")

    class Meta:
        model = User
        fields = ["is_active", "is_superuser"]

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(Q(username__icontains=value) | Q(email__icontains=value))


class UserViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Any],
):
    """Users. Administrators create and change them and deactivate those who leave (never delete: the audit
    log keeps naming them, and a deactivated user's sessions, tokens and certificates stop working at once);
    everyone else sees only themselves."""

    serializer_class = UserSerializer
    permission_classes = [permissions.IsAuthenticated, ManagesInventory]
    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[Any]:
        who = request_caller(self.request)
        users = User.objects.prefetch_related("dockerweb_teams").order_by("username")
        return users if access.can_manage_inventory(who) else users.filter(pk=who.user.pk)


class GrantFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="user__username")
    team = django_filters.CharFilter(field_name="team__name")
    host = django_filters.CharFilter(field_name="host__name")

    class Meta:
        model = Grant
        fields = ["user", "team", "host", "role"]


class ManagesGrants(permissions.BasePermission):
    """Grants on one host are managed by that host's admins; grants on labels by inventory admins."""

    message = "Only administrators of the host may manage its grants (grants on labels: inventory admins)."

    def has_permission(self, request: Request, view: Any) -> bool:
        who = request_caller(request)
        return access.can_manage_inventory(who) or access.grant_hosts(who).exists()

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return access.can_manage_grants(request_caller(request), obj.host)


class GrantViewSet(AuditedMixin, viewsets.ModelViewSet[Grant]):
    """Roles of users and teams on hosts (or on every host with a label). Inventory administrators manage
    all of them; a host's admins manage the grants on that host (inventory stays with superusers)."""

    serializer_class = GrantSerializer
    permission_classes = [permissions.IsAuthenticated, ManagesGrants]
    filterset_class = GrantFilter

    def get_queryset(self) -> QuerySet[Grant]:
        who = request_caller(self.request)
        grants = Grant.objects.select_related("user", "team", "host")
        if access.can_manage_inventory(who):
            return grants
        return grants.filter(host__in=access.grant_hosts(who))

    def _check_target(self, serializer: Any) -> None:
        # The grant's (new) host must be one the caller manages grants of: no moving a grant elsewhere.
        host = serializer.validated_data.get("host", getattr(serializer.instance, "host", None))
        if not access.can_manage_grants(request_caller(self.request), host):
            raise exceptions.PermissionDenied(ManagesGrants.message)

    def perform_create(self, serializer: Any) -> None:
        self._check_target(serializer)
        super().perform_create(serializer)

    def perform_update(self, serializer: Any) -> None:
        self._check_target(serializer)
        super().perform_update(serializer)


class MeView(APIView):
    """The caller: their teams, the token in use with its scope, and their role on every visible host."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        who = request_caller(request)
        hosts = []
        for host in visibility.visible_hosts(who):
            role = access.role_for(who, host)
            if role is not None:
                hosts.append({"id": host.pk, "name": host.name, "role": role.value})
        token = None
        if who.token is not None:
            token = {
                "name": who.token.name,
                "scope_hosts": who.token.scope_hosts,
                "max_role": who.token.max_role or None,
                "expires_at": who.token.expires_at,
            }
        body = {
            "username": request.user.get_username(),
            "is_superuser": who.is_superuser,
            "can_manage_inventory": access.can_manage_inventory(who),
            "teams": sorted(who.team_names),
            "token": token,
            "hosts": hosts,
        }
        return Response(MeSerializer(body).data)


class AuditFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="username")
    host = django_filters.CharFilter(field_name="host_name")
    action = django_filters.CharFilter(lookup_expr="startswith")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["user", "host", "action", "outcome", "entry_point", "since", "until"]


class AuditViewSet(viewsets.ReadOnlyModelViewSet[AuditEntry]):
    """The audit log, newest first. Administrators see every entry, everyone else their own. Append-only."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter

    def get_queryset(self) -> QuerySet[AuditEntry]:
        who = request_caller(self.request)
        entries = AuditEntry.objects.all()
        return entries if access.can_manage_inventory(who) else entries.filter(user=who.user.pk)

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        """The filtered log as JSON lines, oldest first, streamed."""
        entries = self.filter_queryset(self.get_queryset()).order_by("started_at", "pk")

        def lines() -> Iterator[str]:
            for entry in entries.iterator(chunk_size=500):
                yield json.dumps(AuditEntrySerializer(entry).data, default=str) + "\n"

        response = StreamingHttpResponse(lines(), content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="dockerweb-audit.jsonl"'
        return response
