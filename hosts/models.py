"""The host inventory and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from hosts.fields import EncryptedTextField

HOST_NAME_VALIDATOR = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$",
    "Use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(it becomes part of URLs such as tcp://dockerweb:2375/hosts/<name>).",
)


def validate_engine_url(value: str) -> None:
    """Model validator: an engine URL as `hosts.engine.client.validate_address` accepts it."""
    from hosts.engine.client import validate_address  # the engine package imports these models

    try:
        validate_address(value, "engine")
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class HostStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    UP = "up", "Up"
    DOWN = "down", "Down"


class Host(models.Model):
    """A Docker engine reached over a unix socket or TCP (optionally with TLS client certificates)."""

    name = models.CharField(max_length=63, unique=True, validators=[HOST_NAME_VALIDATOR])
    url = models.CharField(
        max_length=255,
        validators=[validate_engine_url],
        help_text="unix:///path/to/docker.sock or tcp://host:port",
    )
    tls_ca = EncryptedTextField(
        blank=True, default="", help_text="PEM CA certificate that signed the engine's"
    )
    tls_cert = EncryptedTextField(blank=True, default="", help_text="PEM client certificate")
    tls_key = EncryptedTextField(blank=True, default="", help_text="PEM client private key")
    tls_verify = models.BooleanField(default=True, help_text="Verify the engine's certificate and name")
    labels = models.JSONField(default=dict, blank=True)
    # Admission policy settings (hosts.policy.PolicySettings as JSON; empty means the defaults).
    policy = models.JSONField(default=dict, blank=True)
    # Whether operators may act on containers, networks and volumes that carry no owner label.
    unowned_access = models.BooleanField(
        default=False, help_text="Operators may act on objects without an owner label (off for shared hosts)"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Health snapshot, written only by hosts.services.refresh_host (with a field-limited update).
    status = models.CharField(max_length=16, choices=HostStatus.choices, default=HostStatus.UNKNOWN)
    status_error = models.TextField(blank=True, default="")
    engine_id = models.CharField(max_length=128, blank=True, default="")
    engine_version = models.CharField(max_length=64, blank=True, default="")
    api_version = models.CharField(max_length=16, blank=True, default="")
    os_type = models.CharField(max_length=32, blank=True, default="")
    operating_system = models.CharField(max_length=128, blank=True, default="")
    architecture = models.CharField(max_length=32, blank=True, default="")
    kernel_version = models.CharField(max_length=128, blank=True, default="")
    ncpu = models.PositiveIntegerField(null=True, blank=True)
    mem_total = models.PositiveBigIntegerField(null=True, blank=True)
    containers_running = models.PositiveIntegerField(null=True, blank=True)
    containers_paused = models.PositiveIntegerField(null=True, blank=True)
    containers_stopped = models.PositiveIntegerField(null=True, blank=True)
    images = models.PositiveIntegerField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """Roles on a host, weakest first: each includes everything the ones before it may do."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Team(models.Model):
    """A group of users that grants and object ownership refer to."""

    name = models.CharField(max_length=100, unique=True, validators=[HOST_NAME_VALIDATOR])
    description = models.TextField(blank=True, default="")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="dockerweb_teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Grant(models.Model):
    """A role for a user or a team on one host, or on every host carrying a label."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    host_label = models.CharField(
        max_length=200, blank=True, default="", help_text="`key` or `key=value`: every host with that label"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, team__isnull=True)
                | models.Q(user__isnull=True, team__isnull=False),
                name="grant_to_user_or_team",
            ),
            models.CheckConstraint(
                condition=models.Q(host__isnull=False, host_label="")
                | models.Q(host__isnull=True) & ~models.Q(host_label=""),
                name="grant_on_host_or_label",
            ),
        ]

    def __str__(self) -> str:
        subject = f"team {self.team}" if self.team_id else f"user {self.user}"
        target = f"host {self.host}" if self.host_id else f"hosts labelled {self.host_label}"
        return f"{subject}: {self.role} on {target}"

    def matches(self, host: Host) -> bool:
        """Whether this grant covers `host`."""
        if self.host_id is not None:
            return self.host_id == host.pk
        key, sep, value = self.host_label.partition("=")
        return key in host.labels and (not sep or str(host.labels[key]) == value)


TOKEN_PREFIX = "dw_"  # noqa: S105 - a public prefix, not a secret


def _hash_secret(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only cost every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()))


class ApiToken(models.Model):
    """A personal API token; only its hash is stored, the token itself is shown once at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The public part of the token, used to find the row without scanning every hash.
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Optional scope: host name patterns (fnmatch, e.g. "staging-*"; empty = every host the user may see)
    # and a ceiling on the role the token carries.
    scope_hosts = models.JSONField(default=list, blank=True)
    max_role = models.CharField(max_length=16, choices=Role.choices, blank=True, default="")
    # Where BuildKit's path-less /grpc and /session calls go through the gateway.
    default_host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ApiTokenQuerySet.as_manager()

    # last_used_at is written at most this often per token, so reads do not become writes.
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: Any, name: str, expires_at: Any = None, **limits: Any) -> tuple[ApiToken, str]:
        """Create a token for `user` (limits: scope_hosts, max_role, default_host); returns the row and the
        plaintext token, which is never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_id=key_id,
            secret_hash=_hash_secret(secret),
            expires_at=expires_at,
            **limits,
        )
        return token, f"{TOKEN_PREFIX}{key_id}_{secret}"

    @classmethod
    def find(cls, plaintext: str) -> ApiToken | None:
        """The active token matching `plaintext`, or None; constant-time on the secret."""
        if not plaintext.startswith(TOKEN_PREFIX):
            return None
        key_id, sep, secret = plaintext.removeprefix(TOKEN_PREFIX).partition("_")
        if not sep or not key_id or not secret:
            return None
        token = cls.objects.active().select_related("user").filter(key_id=key_id).first()
        if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
            return None
        return token

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def audit_name(self) -> str:
        return self.name

    def touch(self) -> None:
        """Record use, at most once per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class EntryPoint(models.TextChoices):
    REST = "rest", "REST API"
    WEBSOCKET = "ws", "Websocket"
    GATEWAY = "gateway", "Docker-protocol gateway"
    JOB = "job", "Background job"
    COMMAND = "command", "Management command"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Succeeded"
    FAILURE = "failure", "Failed"
    DENIED = "denied", "Denied"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEntry(models.Model):
    """One change (or exec, attach, or denied call): who, where, what, with what outcome. Append-only.

    Rows are ordered by the time their request started: a long call (an attach, a build) is written when
    it ends, after calls that started later, and the log must still read in the order things were asked.
    """

    # When the request started (gateway, REST, websocket); `created_at` is when the row was written.
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Names are copied so the entry still reads right after the user, token or host is gone.
    username = models.CharField(max_length=150, blank=True, default="")
    token_name = models.CharField(max_length=100, blank=True, default="")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    entry_point = models.CharField(max_length=16, choices=EntryPoint.choices)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    host_name = models.CharField(max_length=63, blank=True, default="")
    action = models.CharField(max_length=100, db_index=True)
    method = models.CharField(max_length=10, blank=True, default="")
    path = models.CharField(max_length=500, blank=True, default="")
    # Long enough for any reference the grammar admits (an image: 255-character name, tag, digest).
    object_id = models.CharField(max_length=768, blank=True, default="")
    object_name = models.CharField(max_length=255, blank=True, default="")
    request_body = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.TextField(
        blank=True, default="", help_text="Error message, or the denial's rule and field"
    )
    duration_ms = models.FloatField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class ClientCertificateAuthority(models.Model):
    """The CA that issues TLS client certificates for the gateway (hosts.client_certs): one row, made on
    first use. It lives in the database rather than in files so every web, worker and gateway replica
    shares it; the key is encrypted like every other secret (hosts.crypto)."""

    purpose = models.CharField(max_length=32, unique=True)
    cert_pem = models.TextField()
    key_pem = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.purpose} CA (until {self.expires_at:%Y-%m-%d})"


class ClientCertificateQuerySet(models.QuerySet["ClientCertificate"]):
    def active(self) -> ClientCertificateQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ClientCertificate(models.Model):
    """A TLS client certificate issued to a user for the gateway: the user's identity there, with the same
    optional limits as a token. Only the certificate's public facts are kept; its key was shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_certificates"
    )
    # Short enough that "certificate <name>" fits AuditEntry.token_name.
    name = models.CharField(max_length=80)
    serial = models.CharField(max_length=40, unique=True, editable=False, help_text="hex")
    fingerprint = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the DER certificate, hex"
    )
    cert_pem = models.TextField(editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The limits a token can carry (hosts.access reads them the same way).
    scope_hosts = models.JSONField(default=list, blank=True)
    max_role = models.CharField(max_length=16, choices=Role.choices, blank=True, default="")
    default_host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ClientCertificateQuerySet.as_manager()

    LAST_USED_RESOLUTION = ApiToken.LAST_USED_RESOLUTION

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A revoked certificate's name can be given to its replacement.
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="unique_active_certificate_name_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user}, serial {self.serial})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def audit_name(self) -> str:
        return f"certificate {self.name}"  # in the audit log's token column: "certificate laptop"

    def touch(self) -> None:
        """Record use, at most once per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.LAST_USED_RESOLUTION:
            ClientCertificate.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
