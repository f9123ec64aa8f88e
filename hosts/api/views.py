"""REST views for hosts and tokens. Access is decided by hosts.access, work is done by hosts.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, parsers, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from hosts import access, contexts, services, visibility
from hosts.api import limits
from hosts.api.auditing import AuditedMixin
from hosts.api.filters import HostFilter
from hosts.api.serializers import (
    ContextImportReportSerializer,
    ContextImportSerializer,
    EngineInfoSerializer,
    HostSerializer,
    NewTokenSerializer,
    PingSerializer,
    TokenSerializer,
)
from hosts.engine.tls import TLSMaterial
from hosts.models import ApiToken, Host

CHECK_PARAMETER = OpenApiParameter(
    "check",
    OpenApiTypes.BOOL,
    description="Connect to the engine before saving (default true); false stores the host unchecked.",
)


def _field_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def _check_requested(request: Request) -> bool:
    value = request.query_params.get("check", "true").lower()
    if value not in ("true", "false", "1", "0"):
        raise exceptions.ValidationError({"check": "Use check=true or check=false."})
    return value in ("true", "1")


def _require(request: Request, host: Host | None, action_name: access.Action) -> None:
    try:
        access.require(access.caller(request.user, request.auth), host, action_name)
    except access.AccessDenied as exc:
        if exc.not_found:
            raise exceptions.NotFound(exc.message) from exc
        raise exceptions.PermissionDenied(exc.message) from exc


# What a host's admin may change on it. Everything else (name, address, TLS material, the labels grants
# match) is the inventory: only inventory administrators change it, as only they add and remove hosts.
HOST_SETTINGS = frozenset({"policy", "unowned_access"})


def inventory_changes(host: Host, changes: dict[str, Any]) -> list[str]:
    """The fields of `changes` (validated) outside HOST_SETTINGS whose value differs from the host's: a
    form that sends the whole host back unchanged changes nothing of the inventory."""
    return sorted(
        name for name, value in changes.items() if name not in HOST_SETTINGS and getattr(host, name) != value
    )


class HostAccessPermission(permissions.BasePermission):
    """Asks hosts.access before any validation runs, so a refused caller learns nothing from errors."""

    ACTIONS = {
        "create": access.Action.MANAGE_INVENTORY,
        "destroy": access.Action.MANAGE_INVENTORY,
        "update": access.Action.ADMIN,
        "partial_update": access.Action.ADMIN,
        "refresh": access.Action.ADMIN,
    }

    def _action(self, view: Any) -> access.Action:
        return self.ACTIONS.get(view.action, access.Action.VIEW)

    def has_permission(self, request: Request, view: Any) -> bool:
        if view.action in ("create", "import_contexts"):
            _require(request, None, access.Action.MANAGE_INVENTORY)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        _require(request, obj, self._action(view))
        return True


@extend_schema_view(
    create=extend_schema(parameters=[CHECK_PARAMETER]),
    update=extend_schema(parameters=[CHECK_PARAMETER]),
    partial_update=extend_schema(parameters=[CHECK_PARAMETER]),
)
class HostViewSet(AuditedMixin, viewsets.ModelViewSet[Host]):
    """Docker hosts in the inventory, with their last health snapshot."""

    serializer_class = HostSerializer
    filterset_class = HostFilter
    permission_classes = [permissions.IsAuthenticated, HostAccessPermission]

    def audit_host(self) -> Host | None:
        pk = self.kwargs.get("pk")
        return Host.objects.filter(pk=pk).first() if pk and str(pk).isdigit() else None

    def get_queryset(self) -> QuerySet[Host]:
        return visibility.visible_hosts(access.caller(self.request.user, self.request.auth)).select_related(
            "created_by"
        )

    def perform_create(self, serializer: BaseSerializer[Host]) -> None:
        data: dict[str, Any] = dict(serializer.validated_data)
        tls = TLSMaterial(
            ca=data.pop("tls_ca", ""),
            cert=data.pop("tls_cert", ""),
            key=data.pop("tls_key", ""),
            verify=data.pop("tls_verify", True),
        )
        try:
            serializer.instance = services.register_host(
                **data, tls=tls, created_by=self.request.user, check=_check_requested(self.request)
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc

    def perform_update(self, serializer: BaseSerializer[Host]) -> None:
        host = serializer.instance
        assert host is not None
        changed = inventory_changes(host, dict(serializer.validated_data))
        if changed and not access.can_manage_inventory(access.caller(self.request.user, self.request.auth)):
            raise exceptions.PermissionDenied(
                f"Only inventory administrators may change {', '.join(changed)} of host {host.name!r}; "
                f"a host admin may change its {' and '.join(sorted(HOST_SETTINGS))}."
            )
        try:
            serializer.instance = services.update_host(
                host, dict(serializer.validated_data), check=_check_requested(self.request)
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc

    def perform_destroy(self, instance: Host) -> None:
        # Removing a host from the inventory never touches its engine.
        instance.delete()

    @extend_schema(request=None, responses=HostSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        """Probe the engine now and return the new snapshot (down with the reason if it does not answer)."""
        host = self.get_object()
        refreshed = services.refresh_host(host.pk)
        return Response(self.get_serializer(refreshed).data)

    @extend_schema(
        request={"multipart/form-data": ContextImportSerializer},
        responses=ContextImportReportSerializer,
        parameters=[CHECK_PARAMETER],
    )
    @action(
        detail=False, methods=["post"], url_path="import-contexts", parser_classes=[parsers.MultiPartParser]
    )
    def import_contexts(self, request: Request) -> Response:
        """Add hosts from `docker context export` files (administrators). Each file is reported: added,
        skipped (a host of that name exists; it is left alone) or failed with the reason."""
        serializer = ContextImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        check = _check_requested(request)
        report = []
        for upload in serializer.validated_data["contexts"]:
            try:
                found: contexts.DockerContext | contexts.ContextError = contexts.from_export(upload)
            except contexts.ContextError as exc:
                found = exc
            (result,) = contexts.import_contexts([found], created_by=request.user, check=check)
            host = (
                HostSerializer(result.host, context=self.get_serializer_context()).data
                if result.host
                else None
            )
            report.append(
                {"name": result.name, "file": upload.name, "outcome": result.outcome.value,
                 "message": result.message, "host": host}
            )  # fmt: skip
        return Response({"results": report})

    @extend_schema(responses=EngineInfoSerializer)
    @action(detail=True, methods=["get"])
    def info(self, request: Request, pk: str | None = None) -> Response:
        """Live `docker info` and `docker version` from the engine."""
        host = self.get_object()
        return Response(services.live_info(host))

    @extend_schema(responses=PingSerializer)
    @action(detail=True, methods=["get"])
    def ping(self, request: Request, pk: str | None = None) -> Response:
        """Round-trip to the engine; 503 with the reason when it does not answer."""
        host = self.get_object()
        return Response(services.ping(host))


class TokenViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """The caller's own API tokens. The token itself is returned once, by create; delete revokes it."""

    serializer_class = TokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        user_id = self.request.user.pk
        if user_id is None:  # schema generation runs without a user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user_id=user_id)

    @extend_schema(request=TokenSerializer, responses={201: NewTokenSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        who = access.caller(request.user, request.auth)
        scope, max_role = limits.within_token(who, data.get("scope_hosts"), data.get("max_role", ""))
        token, plaintext = ApiToken.issue(
            request.user,
            data["name"],
            expires_at=limits.expiry_within_token(who, data.get("expires_at")),
            scope_hosts=scope,
            max_role=max_role,
            default_host=limits.default_host(request.user, who, (data.get("default_host") or {}).get("name")),
        )
        body = NewTokenSerializer(token, context=self.get_serializer_context()).data
        return Response({**body, "token": plaintext}, status=status.HTTP_201_CREATED)
