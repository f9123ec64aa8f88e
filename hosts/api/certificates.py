"""REST views for TLS client certificates (the gateway identity of hosts.client_certs).

Everyone issues, lists and revokes their own; inventory administrators issue for anyone and see and
revoke every certificate. The private key is in the issuing response only. A certificate issued through a
token that is limited (host patterns, maximum role) carries the same limits or narrower ones, so a limited
token cannot mint an unlimited identity.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hosts import access, client_certs
from hosts.api import limits
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.api.limits import RoleCeilingField
from hosts.models import ClientCertificate


class CertificateSerializer(serializers.ModelSerializer[ClientCertificate]):
    user = serializers.CharField(
        source="user.username",
        required=False,
        help_text="Whose certificate: yours by default; administrators may name any user.",
    )
    issued_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    default_host = serializers.CharField(
        source="default_host.name",
        required=False,
        allow_null=True,
        help_text="Host name for BuildKit's path-less /grpc and /session calls through the gateway.",
    )
    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=client_certs.MAX_VALIDITY_DAYS,
        help_text=f"Validity in days (default {client_certs.DEFAULT_VALIDITY_DAYS}).",
    )
    scope_hosts = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Host name patterns (e.g. staging-*) the certificate is limited to; empty: every host.",
    )
    max_role = RoleCeilingField(
        required=False, help_text="The strongest role the certificate carries on any host; empty: no cap."
    )
    revoked = serializers.BooleanField(read_only=True)

    class Meta:
        model = ClientCertificate
        fields = [
            "id",
            "name",
            "user",
            "serial",
            "fingerprint",
            "created_at",
            "expires_at",
            "expires_in_days",
            "revoked",
            "revoked_at",
            "last_used_at",
            "scope_hosts",
            "max_role",
            "default_host",
            "issued_by",
        ]
        read_only_fields = [
            "id",
            "serial",
            "fingerprint",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]
        # The per-user uniqueness of active names is checked by the service (also against races).
        validators: list[Any] = []


class NewCertificateSerializer(CertificateSerializer):
    certificate = serializers.CharField(read_only=True, help_text="The certificate, PEM (cert.pem).")
    private_key = serializers.CharField(
        read_only=True, help_text="Its private key, PEM (key.pem): shown only in this response, never stored."
    )
    ca = serializers.CharField(
        read_only=True,
        help_text="PEM of the CA that signed the gateway's server certificate (ca.pem); empty when this "
        "server does not know it.",
    )

    class Meta(CertificateSerializer.Meta):
        fields = [*CertificateSerializer.Meta.fields, "certificate", "private_key", "ca"]


def _field_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("user", OpenApiTypes.STR, description="Username (administrators)"),
            OpenApiParameter("active", OpenApiTypes.BOOL, description="Only unrevoked, unexpired ones"),
        ]
    )
)
class CertificateViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ClientCertificate],
):
    """TLS client certificates for the Docker-protocol gateway (DOCKER_CERT_PATH with cert.pem, key.pem and
    ca.pem). Yours; administrators see everyone's. The private key is returned once, by create."""

    serializer_class = CertificateSerializer

    def get_queryset(self) -> QuerySet[ClientCertificate]:
        if self.request.user.pk is None:  # schema generation runs without a user
            return ClientCertificate.objects.none()
        rows = ClientCertificate.objects.select_related("user", "issued_by", "default_host")
        if not access.can_manage_inventory(request_caller(self.request)):
            rows = rows.filter(user_id=self.request.user.pk)
        elif username := self.request.query_params.get("user"):
            rows = rows.filter(user__username=username)
        if self.request.query_params.get("active", "").lower() in ("true", "1"):
            rows = rows.active()
        return rows

    def _subject(self, who: access.Caller, username: str | None) -> Any:
        if not username or username == who.user.get_username():
            return who.user
        if not access.can_manage_inventory(who):
            raise exceptions.PermissionDenied("Only administrators may issue certificates for other users.")
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise exceptions.ValidationError({"user": f"No user named {username!r}."})
        return user

    @extend_schema(request=CertificateSerializer, responses={201: NewCertificateSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        who = request_caller(request)
        subject = self._subject(who, data.get("user", {}).get("username"))
        scope, max_role = limits.within_token(who, data.get("scope_hosts"), data.get("max_role", ""))
        default_host = limits.default_host(subject, who, (data.get("default_host") or {}).get("name"))
        try:
            issued = client_certs.issue(
                subject,
                data["name"],
                issued_by=request.user,
                valid_for=client_certs.validity(data.get("expires_in_days")),
                scope_hosts=scope,
                max_role=max_role,
                default_host=default_host,
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        body = NewCertificateSerializer(issued.row, context=self.get_serializer_context()).data
        secrets = {"certificate": issued.cert_pem, "private_key": issued.key_pem, "ca": issued.ca_pem}
        return Response({**body, **secrets}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CertificateSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke the certificate: the gateway refuses it within seconds. Revoking again changes nothing."""
        certificate = client_certs.revoke(self.get_object())
        return Response(self.get_serializer(certificate).data)
