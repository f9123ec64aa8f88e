"""REST for registries: administrators manage them; users see (and browse) the ones their teams may use."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from hosts import access
from hosts.access import Action
from hosts.api.auditing import AuditedMixin, request_caller
from images import registry as registry_api
from images.api.serializers import REPOSITORY, RegistrySerializer
from images.models import Registry

PAGE_PARAMETERS = [
    OpenApiParameter("n", OpenApiTypes.INT, description="Page size (at most 1000)"),
    OpenApiParameter(
        "last", OpenApiTypes.STR, description="Continue after this entry (from the Link header)"
    ),
]


def _page_args(request: Request) -> tuple[int | None, str | None]:
    raw = request.query_params.get("n")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= registry_api.MAX_PAGE):
        raise exceptions.ValidationError({"n": f"A page size from 1 to {registry_api.MAX_PAGE}."})
    return (int(raw) if raw else None), (request.query_params.get("last") or None)


def _registry_failure(exc: registry_api.RegistryError) -> Response:
    code = status.HTTP_404_NOT_FOUND if exc.status == 404 else status.HTTP_502_BAD_GATEWAY
    return Response(
        {"detail": exc.message, "code": "registry_error", "registry_status": exc.status}, status=code
    )


class RegistryViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Registries with their credentials (write-only); catalog, tags and search through their v2 API."""

    serializer_class = RegistrySerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Registry]:
        return (
            Registry.objects.usable_by(self.request.user)
            .prefetch_related("teams")
            .select_related("created_by")
        )

    # Registries are inventory, like hosts: only inventory administrators add, change or remove them.
    INVENTORY_ACTIONS = frozenset({"create", "update", "partial_update", "destroy"})

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        # Before the body is validated, so a refused caller is told who may, not what was wrong.
        if self.action in self.INVENTORY_ACTIONS:
            access.require(request_caller(request), None, Action.MANAGE_INVENTORY)

    def perform_create(self, serializer: BaseSerializer[Registry]) -> None:
        serializer.save(created_by=self.request.user)

    def _page(self, request: Request, page: registry_api.Page, key: str, extra: dict[str, Any]) -> Response:
        data: dict[str, Any] = {**extra, key: page.items, "next": None}
        response = Response(data)
        if page.next_last is not None:
            query = {k: v for k, v in request.query_params.items() if k not in ("last", "n")}
            query.update({"n": str(page.n or len(page.items)), "last": page.next_last})
            data["next"] = request.build_absolute_uri(f"{request.path}?{urlencode(query)}")
            response["Link"] = f'<{data["next"]}>; rel="next"'
        return response

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Check the stored credentials against the registry's `/v2/` (Basic or Bearer token)."""
        return Response(registry_api.check(self.get_object()))

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def catalog(self, request: Request, pk: str) -> Response:
        """The registry's repositories, a page at a time (`Link: <...>; rel="next"`)."""
        n, last = _page_args(request)
        registry = self.get_object()
        try:
            page = registry_api.catalog(registry, n=n, last=last)
        except registry_api.RegistryError as exc:
            return _registry_failure(exc)
        return self._page(
            request, page, "repositories", {"registry": registry.pk, "address": registry.address}
        )

    @extend_schema(
        parameters=[OpenApiParameter("repository", OpenApiTypes.STR, required=True), *PAGE_PARAMETERS],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def tags(self, request: Request, pk: str) -> Response:
        """A repository's tags, a page at a time (`Link: <...>; rel="next"`)."""
        repository = request.query_params.get("repository", "")
        if not REPOSITORY.match(repository):
            raise exceptions.ValidationError({"repository": "Give a repository name, e.g. team/web."})
        n, last = _page_args(request)
        registry = self.get_object()
        try:
            page = registry_api.tags(registry, repository, n=n, last=last)
        except registry_api.RegistryError as exc:
            return _registry_failure(exc)
        extra = {"repository": repository, "image": f"{registry.address}/{repository}"}
        return self._page(request, page, "tags", extra)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def search(self, request: Request, pk: str) -> Response:
        """Repositories whose name contains `q`, shaped like `docker search` results."""
        term = request.query_params.get("q", "").strip()
        if not term:
            raise exceptions.ValidationError({"q": "Give part of a repository name."})
        limit = request.query_params.get("limit", "25")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise exceptions.ValidationError({"limit": "A number from 1 to 100."})
        try:
            return Response(registry_api.search(self.get_object(), term, int(limit)))
        except registry_api.RegistryError as exc:
            return _registry_failure(exc)
