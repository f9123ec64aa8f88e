"""REST views for images: across hosts, and everything about the images of one host, including the job
actions (pull, build, push, commit) that answer 202 with the job."""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, parsers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dockerweb.api import ArchiveParser, Pagination, StrictJSONParser
from hosts import visibility
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.api.scoped import HostScopedViewSet
from hosts.engine.request import BadReference, Kind, check_reference
from images.api.jobs import PayloadTooLarge, context_error, start_job
from images.api.serializers import (
    BuildSerializer,
    CommitSerializer,
    ImageSummarySerializer,
    JobSerializer,
    PruneSerializer,
    PullSerializer,
    PushSerializer,
    TagSerializer,
)
from images.models import JobKind
from images.services import contexts, engine_images

ARCHIVE_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream")
REF = OpenApiParameter(
    "ref", OpenApiTypes.STR, OpenApiParameter.PATH, description="Image id, or repository[:tag|@digest]"
)
LIST_PARAMETERS = [
    OpenApiParameter("reference", OpenApiTypes.STR, description="Engine filter: repository[:tag] pattern"),
    OpenApiParameter("dangling", OpenApiTypes.BOOL, description="Only untagged (true) or tagged (false)"),
    OpenApiParameter("label", OpenApiTypes.STR, description="key or key=value"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Part of a tag, digest or id"),
]


def _chunks(stream: Any, size: int = contexts.CHUNK) -> Any:
    if stream is None:
        return iter(())
    return iter(lambda: stream.read(size), b"")


def _flag(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise exceptions.ValidationError({name: "Use true or false."})


def _filters(request: Request) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    if request.query_params.get("reference"):
        filters["reference"] = [request.query_params["reference"]]
    if request.query_params.get("label"):
        filters["label"] = [request.query_params["label"]]
    if "dangling" in request.query_params:
        filters["dangling"] = ["true" if _flag(request, "dangling") else "false"]
    return filters


def _described(value: Any) -> Any:
    """A form value as the audit may store it: a file by its name, a JSON object parsed."""
    if hasattr(value, "read"):
        return {"file": getattr(value, "name", ""), "size": getattr(value, "size", None)}
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_archive(request: Request) -> bool:
    return (request.content_type or "").split(";")[0].strip().lower() in ARCHIVE_TYPES


class ImageListViewSet(AuditedMixin):
    """Images across every visible host, asked concurrently; a down host is reported, not fatal."""

    pagination_class = Pagination
    serializer_class = ImageSummarySerializer
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter("host", OpenApiTypes.STR, description="Host id or name"),
        ],
        responses=ImageSummarySerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        who = request_caller(request)
        hosts = visibility.visible_hosts(who)
        selector = request.query_params.get("host")
        if selector:
            hosts = hosts.filter(pk=int(selector)) if selector.isdigit() else hosts.filter(name=selector)
        items, failures = engine_images.list_images(
            who, list(hosts), _filters(request), request.query_params.get("q", "")
        )
        paginator = self.paginator
        assert paginator is not None
        page = paginator.paginate_queryset(items, request, view=self)
        summaries = ImageSummarySerializer(page or [], many=True)  # type: ignore[arg-type]
        response = paginator.get_paginated_response(summaries.data)
        response.data["errors"] = [
            {"host": failure.host.pk, "host_name": failure.host.name, "detail": failure.message}
            for failure in failures
        ]
        return response


_ACTION_WORDS = frozenset({"history", "tag", "export"})  # the detail routes named after the image


def _is_image_reference(value: str) -> bool:
    try:
        check_reference(Kind.IMAGE, value)
    except BadReference:
        return False
    return True


class ImageViewSet(HostScopedViewSet):
    """One host's images: list, inspect, history, tag, remove, prune, export, load, search, and jobs."""

    serializer_class = ImageSummarySerializer
    filter_backends: list[Any] = []  # filters go to the engine, not to a queryset
    lookup_field = "ref"
    # References contain '/' and ':'; a last segment named like an action belongs to that action's route.
    lookup_value_regex = r"[^/]+(?:/(?!(?:history|tag|export)/?$)[^/]+)*"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # `images/busybox/export/` exports `busybox`, but `busybox/export` names an image too: a bare name
        # is refused, so that no call reads one image when its sender meant the other (a tag or id says
        # which: `images/busybox:1/export/` is the export of busybox:1, as the README says).
        ref = kwargs.get("ref")
        bare = ref and ":" not in ref.rpartition("/")[2] and "@" not in ref
        if bare and self.action in _ACTION_WORDS and _is_image_reference(f"{ref}/{self.action}"):
            raise BadReference(
                "ref",
                f"{ref}/{self.action} is an image name as well as {self.action} of {ref}: name the image "
                f"with its tag or id ({ref}:latest/{self.action}/, or {ref}/{self.action}:latest/).",
            )

    def _record(self, request: Request, response: Response) -> None:
        # The audit stores the body as JSON (and redacts secrets by key): describe uploaded files, and
        # parse a form's JSON fields (buildargs) so their secret keys are redacted too.
        data = getattr(request, "_full_data", None)
        if hasattr(data, "lists"):
            request._full_data = {  # type: ignore[attr-defined]
                key: [_described(v) for v in values] if len(values) > 1 else _described(values[0])
                for key, values in data.lists()  # type: ignore[union-attr]
            }
        super()._record(request, response)

    @extend_schema(
        operation_id="hosts_images_list",
        parameters=LIST_PARAMETERS,
        responses=ImageSummarySerializer(many=True),
    )
    def list(self, request: Request, host_pk: str) -> Response:
        items, failures = engine_images.list_images(
            self.who, [self.host], _filters(request), request.query_params.get("q", "")
        )
        if failures:
            raise failures[0].error  # a host whose engine is gone: 503 host_unreachable, as elsewhere
        return Response(items)

    @extend_schema(parameters=[REF], responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, host_pk: str, ref: str) -> Response:
        """`docker image inspect`, plus the containers using the image (those you may see)."""
        return Response(engine_images.inspect_image(self.who, self.host, ref))

    @extend_schema(
        parameters=[
            REF,
            OpenApiParameter("force", OpenApiTypes.BOOL),
            OpenApiParameter("noprune", OpenApiTypes.BOOL),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, host_pk: str, ref: str) -> Response:
        """Remove the image; without force, refused (409) while containers use it, naming them."""
        removed = engine_images.remove_image(
            self.who, self.host, ref, force=_flag(request, "force"), noprune=_flag(request, "noprune")
        )
        return Response({"image": ref, "removed": removed})

    @extend_schema(parameters=[REF], responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def history(self, request: Request, host_pk: str, ref: str) -> Response:
        """The image's layers, newest first."""
        return Response(engine_images.image_history(self.who, self.host, ref))

    @extend_schema(parameters=[REF], request=TagSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def tag(self, request: Request, host_pk: str, ref: str) -> Response:
        serializer = TagSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tagged = engine_images.tag_image(self.who, self.host, ref, data["repository"], data["tag"])
        return Response({"image": ref, "tagged": tagged}, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[REF], responses={(200, "application/x-tar"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, host_pk: str, ref: str) -> StreamingHttpResponse:
        """`docker save`: the image as a tar download, streamed."""
        stream = engine_images.export_image(self.who, self.host, ref)
        response = StreamingHttpResponse(stream, content_type="application/x-tar")
        filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", ref).strip("_") or "image"
        response["Content-Disposition"] = f'attachment; filename="{filename}.tar"'
        return response

    @extend_schema(request=PruneSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def prune(self, request: Request, host_pk: str) -> Response:
        """Remove dangling images (or every unused one with dangling=false); host admins."""
        serializer = PruneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dangling = serializer.validated_data["dangling"]
        return Response(engine_images.prune_images(self.who, self.host, dangling_only=dangling))

    @extend_schema(
        request={"application/x-tar": OpenApiTypes.BINARY, "application/gzip": OpenApiTypes.BINARY},
        responses={201: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"], parser_classes=[ArchiveParser])
    def load(self, request: Request, host_pk: str) -> Response:
        """`docker load` from an uploaded tar (as written by export / docker save), streamed to the engine."""
        try:
            contexts.check_declared_size(request.META.get("CONTENT_LENGTH"), "body")
        except contexts.ContextError as exc:
            raise context_error(exc) from exc
        limit = contexts.conf.max_upload_bytes()

        def bounded() -> Any:
            size = 0
            for chunk in _chunks(request.data):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body: The upload is larger than {limit // (1024 * 1024)} MiB.")
                yield chunk

        loaded = engine_images.load_images(self.who, self.host, bounded())
        return Response({"loaded": loaded}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "term", OpenApiTypes.STR, required=True, description="registry/name or a Hub term"
            ),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=False, methods=["get"])
    def search(self, request: Request, host_pk: str) -> Response:
        """Search a known registry's catalog (term `registry/name`), else the engine's (Docker Hub) search."""
        term = request.query_params.get("term", "").strip()
        if not term:
            raise exceptions.ValidationError({"term": "Give a search term, e.g. localhost:5000/web."})
        limit = request.query_params.get("limit", "25")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise exceptions.ValidationError({"limit": "A number from 1 to 100."})
        return Response(engine_images.search(self.who, self.host, term, int(limit)))

    # Jobs

    @extend_schema(request=PullSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def pull(self, request: Request, host_pk: str) -> Response:
        """Pull an image as a job, with the matching registry's credentials."""
        return start_job(self.who, self.host, JobKind.PULL, request.data)

    @extend_schema(request=PushSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def push(self, request: Request, host_pk: str) -> Response:
        """Push an image (tagging `source` first if given) to a registry dockerweb knows, as a job."""
        return start_job(self.who, self.host, JobKind.PUSH, request.data)

    @extend_schema(request=CommitSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"])
    def commit(self, request: Request, host_pk: str) -> Response:
        """Commit one of your containers to an image, as a job."""
        return start_job(self.who, self.host, JobKind.COMMIT, request.data)

    @extend_schema(
        request={
            "multipart/form-data": BuildSerializer,
            "application/json": BuildSerializer,
            "application/x-tar": OpenApiTypes.BINARY,
        },
        parameters=[
            OpenApiParameter(
                "tags", OpenApiTypes.STR, many=True, description="With a raw tar body: the tags"
            ),
            OpenApiParameter("dockerfile", OpenApiTypes.STR, description="With a raw tar body"),
        ],
        responses={202: JobSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[parsers.MultiPartParser, StrictJSONParser, ArchiveParser],
    )
    def build(self, request: Request, host_pk: str) -> Response:
        """Build as a job from a tar upload (multipart `context`, or the raw body), a Dockerfile text with
        files, or a git URL; optionally push the tags when done."""
        try:
            contexts.check_declared_size(request.META.get("CONTENT_LENGTH"), "context")
        except contexts.ContextError as exc:
            raise context_error(exc) from exc
        if not _is_archive(request):
            return start_job(self.who, self.host, JobKind.BUILD, request.data)
        # A raw tar body: the other parameters come in the query string.
        query = request.query_params
        data: dict[str, Any] = {key: query.get(key) for key in query if key != "tags"}
        data["tags"] = query.getlist("tags")
        body = request.data

        def store() -> str:
            return contexts.store_upload(_chunks(body), "context").name

        return start_job(self.who, self.host, JobKind.BUILD, data, store=store)
