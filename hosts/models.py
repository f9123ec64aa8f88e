"""The host inventory and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from hosts.fields import EncryptedTextField

HOST_NAME_VALIDATOR = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$",
    "Use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(it becomes part of URLs such as tcp://dockerweb:2375/hosts/<name>).",
)


class HostStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    UP = "up", "Up"
    DOWN = "down", "Down"


class Host(models.Model):
    """A Docker engine reached over a unix socket or TCP (optionally with TLS client certificates)."""

    name = models.CharField(max_length=63, unique=True, validators=[HOST_NAME_VALIDATOR])
    url = models.CharField(max_length=255, help_text="unix:///path/to/docker.sock or tcp://host:port")
    tls_ca = EncryptedTextField(
        blank=True, default="", help_text="PEM CA certificate that signed the engine's"
    )
    tls_cert = EncryptedTextField(blank=True, default="", help_text="PEM client certificate")
    tls_key = EncryptedTextField(blank=True, default="", help_text="PEM client private key")
    tls_verify = models.BooleanField(default=True, help_text="Verify the engine's certificate and name")
    labels = models.JSONField(default=dict, blank=True)
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

    objects = ApiTokenQuerySet.as_manager()

    # last_used_at is written at most this often per token, so reads do not become writes.
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: Any, name: str, expires_at: Any = None) -> tuple[ApiToken, str]:
        """Create a token for `user`; returns the row and the plaintext token, which is never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_id=key_id, secret_hash=_hash_secret(secret), expires_at=expires_at
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

    def touch(self) -> None:
        """Record use, at most once per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
