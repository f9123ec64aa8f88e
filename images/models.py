"""Registries dockerweb knows (with encrypted credentials) and the image jobs: pull, build, push, commit."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from hosts.fields import EncryptedTextField
from hosts.models import Host, Team


def validate_registry_url(value: str) -> None:
    """Model validator: a registry API URL, checked by the function that checks every address."""
    from hosts.engine.client import validate_address

    try:
        validate_address(value, "registry")
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def validate_registry_server(value: str) -> None:
    """Model validator: the registry as image names carry it (host or host:port)."""
    from hosts.engine import client

    try:
        client.validate_registry_server(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class RegistryQuerySet(models.QuerySet["Registry"]):
    def usable_by(self, user: Any) -> RegistryQuerySet:
        """Registries open to everyone (no teams) or to one of the user's teams; superusers: all."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(Q(teams__isnull=True) | Q(teams__members=user)).distinct()


class Registry(models.Model):
    """A Docker registry: its API URL, the name images carry, credentials (encrypted) and who may use it."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        max_length=255,
        validators=[validate_registry_url],
        help_text="API base URL dockerweb calls: https://registry.example.com",
    )
    server = models.CharField(
        max_length=255,
        blank=True,
        default="",
        validators=[validate_registry_server],
        help_text="The registry as image names carry it (localhost:5000, docker.io); default: the URL's host",
    )
    username = models.CharField(max_length=255, blank=True, default="")
    password = EncryptedTextField(blank=True, default="", help_text="Password or access token (write-only)")
    tls_verify = models.BooleanField(default=True, help_text="Verify the registry's certificate")
    tls_ca = models.TextField(blank=True, default="", help_text="PEM CA certificate for a private CA")
    teams = models.ManyToManyField(
        Team, blank=True, related_name="registries", help_text="Teams that may use it; none: everyone"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "registries"

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        """The registry part of image names that live here (lowercase host[:port])."""
        return (self.server or urlsplit(self.url).netloc).lower()


class JobKind(models.TextChoices):
    PULL = "pull", "Pull"
    BUILD = "build", "Build"
    PUSH = "push", "Push"
    COMMIT = "commit", "Commit"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """A long image operation run by a Celery worker, with its progress, result or the engine's error."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="image_jobs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="image_jobs")
    # The registry whose credentials the job uses (chosen when it was created; none: anonymous).
    registry = models.ForeignKey(Registry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    params = models.JSONField(default=dict, blank=True, help_text="What was asked, without secrets")
    # Secret parameters (build args named like TOKEN or PASSWORD), as encrypted JSON; never shown.
    secrets = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="", help_text="The engine's message when the job failed")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started so far")
    cancel_requested = models.BooleanField(default=False)
    # Written by the running worker every few seconds; a stale one means the worker was lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    # Identifies the current run: a lost worker that comes back cannot overwrite a newer run.
    run_id = models.UUIDField(null=True, blank=True)
    # Not before this time (a retry after a connection failure waits for its backoff).
    retry_at = models.DateTimeField(null=True, blank=True)
    # Grows with every saved change, so websocket clients can drop stale snapshots.
    seq = models.PositiveBigIntegerField(default=0)
    # The stored build context (a file name in the upload directory), if any.
    context = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["host", "status"], name="images_job_host_status"),
            models.Index(fields=["status", "heartbeat_at"], name="images_job_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
