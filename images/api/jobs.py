"""REST for jobs: create (from `POST /jobs/` or the images actions), list, retrieve, cancel, retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hosts import access, visibility
from hosts.access import Action, Caller
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.models import Host
from images.api.serializers import (
    BuildSerializer,
    CommitSerializer,
    JobCreateSerializer,
    JobSerializer,
    PullSerializer,
    PushSerializer,
)
from images.models import Job, JobKind, JobStatus, Registry
from images.registry import matching_registry, registry_of
from images.services import contexts, jobs


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def context_error(exc: contexts.ContextError) -> exceptions.APIException:
    """The API error for a build context that cannot be used (413 for too large), naming the field."""
    if exc.status == 413:
        return PayloadTooLarge(f"{exc.field}: {exc.message}")
    return exceptions.ValidationError({exc.field: exc.message})


def choose_registry(who: Caller, image: str, registry_id: int | None, *, required: bool) -> Registry | None:
    """The registry whose credentials a pull or push of `image` uses: the one asked for, else the match."""
    usable = list(Registry.objects.usable_by(who.user).prefetch_related("teams"))
    if registry_id is not None:
        chosen = next((r for r in usable if r.pk == registry_id), None)
        if chosen is None:
            raise exceptions.ValidationError({"registry": f"No registry {registry_id} is available to you."})
        if chosen.address != registry_of(image):
            raise exceptions.ValidationError(
                {
                    "image": f"{image!r} is not in registry {chosen.name!r}; "
                    f"name it {chosen.address}/<repository>."
                }
            )
        return chosen
    found = matching_registry(usable, image)
    if found is None and required:
        if matching_registry(Registry.objects.all(), image) is not None:
            # Known, but another team's: a refusal, not a mistake in the request.
            raise exceptions.PermissionDenied(
                f"The registry of {registry_of(image)!r} is not one your teams may use; ask an administrator."
            )
        raise exceptions.ValidationError(
            {
                "image": f"No registry you may use is known for {registry_of(image)!r}; "
                "an administrator adds it under /api/v1/registries/ (name images registry/repository:tag)."
            }
        )
    return found


def start_job(
    who: Caller, host: Host, kind: JobKind, data: Any, *, store: Callable[[], str] | None = None
) -> Response:
    """Validate the kind's parameters, admit, store a build context, record the job; 202 with it."""
    access.require(who, host, Action.IMAGES)  # a refusal comes before any complaint about the input
    serializer: Any = {
        JobKind.PULL: PullSerializer,
        JobKind.PUSH: PushSerializer,
        JobKind.COMMIT: CommitSerializer,
        JobKind.BUILD: BuildSerializer,
    }[kind](data=data, context={"raw_context": store is not None})
    serializer.is_valid(raise_exception=True)
    params = serializer.params()
    registry = None
    if kind in (JobKind.PULL, JobKind.PUSH):
        registry = choose_registry(
            who, params["image"], serializer.validated_data.get("registry"), required=kind == JobKind.PUSH
        )
    if kind == JobKind.BUILD:
        store = store or _context_store(serializer.validated_data)
    try:
        job = jobs.create_job(who, host, kind, params, registry=registry, store=store)
    except contexts.ContextError as exc:
        raise context_error(exc) from exc
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _context_store(data: dict[str, Any]) -> Callable[[], str] | None:
    if data.get("context") is not None:
        upload = data["context"]
        return lambda: contexts.store_upload(upload.chunks(), "context").name
    if data.get("dockerfile_text"):
        files: dict[str, Any] = {f.name: f for f in data.get("files") or []}
        files.update({name: text.encode() for name, text in (data.get("file_texts") or {}).items()})
        text, name = data["dockerfile_text"], data.get("dockerfile") or "Dockerfile"
        return lambda: contexts.store_dockerfile(text, files, name).name
    return None


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.ChoiceFilter(choices=JobKind.choices)
    host = django_filters.NumberFilter(field_name="host_id")
    user = django_filters.CharFilter(field_name="user__username", help_text="Owner (admins see others' jobs)")

    class Meta:
        model = Job
        fields = ["status", "kind", "host", "user"]


class JobViewSet(AuditedMixin):
    """Your jobs (and every job on hosts you administer): create, list, retrieve, cancel, retry."""

    serializer_class = JobSerializer
    filterset_class = JobFilter
    lookup_value_regex = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def get_queryset(self) -> QuerySet[Job]:
        return jobs.visible_jobs(request_caller(self.request))

    def audit_host(self) -> Host | None:
        if self.kwargs.get("pk"):
            job = Job.objects.select_related("host").filter(pk=self.kwargs["pk"]).first()
            return job.host if job is not None else None
        return None

    def _job(self) -> Job:
        return jobs.get_visible(request_caller(self.request), self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(JobSerializer(page, many=True).data)  # type: ignore[arg-type]

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(JobSerializer(self._job()).data)

    @extend_schema(request=JobCreateSerializer, responses={202: JobSerializer})
    def create(self, request: Request) -> Response:
        """Start a job of any kind on a host (builds here take dockerfile_text or git_url)."""
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = request_caller(request)
        host = visibility.visible_hosts(who).filter(pk=serializer.validated_data["host"]).first()
        if host is None:
            raise exceptions.NotFound(f"No host {serializer.validated_data['host']} is visible to you.")
        kind = JobKind(serializer.validated_data["kind"])
        return start_job(who, host, kind, serializer.validated_data["params"])

    @extend_schema(request=None, responses={200: JobSerializer, 202: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel: a queued job at once (200); a running one is stopped by its worker (202)."""
        try:
            job = jobs.cancel_job(request_caller(request), self._job())
        except jobs.JobConflict as exc:
            return Response({"detail": exc.message, "code": "job_finished"}, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_200_OK if job.status == JobStatus.CANCELLED else status.HTTP_202_ACCEPTED
        return Response(JobSerializer(job).data, status=code)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Queue a failed or cancelled job again, with the same parameters."""
        try:
            job = jobs.retry_job(request_caller(request), self._job())
        except jobs.JobConflict as exc:
            return Response(
                {"detail": exc.message, "code": "job_not_retryable"}, status=status.HTTP_409_CONFLICT
            )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
