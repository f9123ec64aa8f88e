"""REST views for containers: the list across hosts, and everything on one container of one host."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from containers import services
from containers.api.serializers import (
    BulkSerializer,
    ContainerCreateSerializer,
    ContainerSummarySerializer,
    RenameSerializer,
)
from dockerweb.api import Pagination, TarParser
from hosts import visibility
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.api.scoped import HostScopedViewSet
from hosts.models import Host

LIST_PARAMETERS = [
    OpenApiParameter("host", OpenApiTypes.STR, description="Host id or name (default: every visible host)"),
    OpenApiParameter(
        "status", OpenApiTypes.STR, description="created, running, paused, restarting, exited, dead"
    ),
    OpenApiParameter("label", OpenApiTypes.STR, description="key or key=value"),
    OpenApiParameter("name", OpenApiTypes.STR, description="Part of the container name"),
    OpenApiParameter("project", OpenApiTypes.STR, description="Compose project"),
]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise exceptions.ValidationError({name: "Must be an integer."}) from exc


class ContainerListViewSet(AuditedMixin):
    """Containers across every visible host, asked concurrently; a down host is reported, not fatal."""

    pagination_class = Pagination
    serializer_class = ContainerSummarySerializer
    filter_backends: list[Any] = []  # filters go to the engines, not to a queryset

    @extend_schema(parameters=LIST_PARAMETERS, responses=ContainerSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        who = request_caller(request)
        hosts = visibility.visible_hosts(who)
        selector = request.query_params.get("host")
        if selector:
            hosts = hosts.filter(pk=int(selector)) if selector.isdigit() else hosts.filter(name=selector)
        filters: dict[str, list[str]] = {}
        for param, engine_filter in (("status", "status"), ("label", "label"), ("name", "name")):
            if request.query_params.get(param):
                filters[engine_filter] = [request.query_params[param]]
        if request.query_params.get("project"):
            filters.setdefault("label", []).append(
                f"{services.COMPOSE_PROJECT}={request.query_params['project']}"
            )
        items, failures = services.list_containers(who, list(hosts), filters)
        paginator = self.paginator
        assert paginator is not None
        page = paginator.paginate_queryset(items, request, view=self)
        summaries = ContainerSummarySerializer(page or [], many=True)  # type: ignore[arg-type]
        response = paginator.get_paginated_response(summaries.data)
        response.data["errors"] = [
            {"host": failure.host.pk, "host_name": failure.host.name, "detail": failure.message}
            for failure in failures
        ]
        return response

    @extend_schema(request=BulkSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """One action on many containers (on any visible hosts); each result is reported."""
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = request_caller(request)
        verb, force = serializer.validated_data["action"], serializer.validated_data["force"]
        visible = {host.pk: host for host in visibility.visible_hosts(who)}
        items = serializer.validated_data["containers"]
        results = services.bulk_action(who, visible, items, verb, force)
        response = Response({"action": verb, "results": results, "failed": sum(not r["ok"] for r in results)})
        if any(r.get("refused") for r in results):
            response.audit_outcome = "denied"  # type: ignore[attr-defined]
        return response


class ContainerViewSet(HostScopedViewSet):
    """One host's containers: create, run, inspect, lifecycle, logs, files, prune."""

    serializer_class = ContainerCreateSerializer
    lookup_field = "ref"
    lookup_value_regex = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"

    def audit_host(self) -> Host | None:
        return super().audit_host()

    @extend_schema(request=ContainerCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request, host_pk: str) -> Response:
        """Create a container (not started); returns the engine's Id and Warnings."""
        data = self._create_data(request)
        created = services.create_container(self.who, self.host, data["body"], data.get("name") or "")
        return Response(created, status=status.HTTP_201_CREATED)

    @extend_schema(request=ContainerCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def run(self, request: Request, host_pk: str) -> Response:
        """Create and start a container (optionally pulling a missing image); returns its inspect."""
        data = self._create_data(request)
        details = services.run_container(
            self.who, self.host, data["body"], data.get("name") or "", data["pull"]
        )
        return Response(details, status=status.HTTP_201_CREATED)

    def _create_data(self, request: Request) -> dict[str, Any]:
        serializer = ContainerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, host_pk: str, ref: str) -> Response:
        """`docker inspect`; environment values are hidden below operator."""
        return Response(services.inspect_container(self.who, self.host, ref))

    @extend_schema(
        parameters=[
            OpenApiParameter("force", OpenApiTypes.BOOL),
            OpenApiParameter("volumes", OpenApiTypes.BOOL),
        ]
    )
    def destroy(self, request: Request, host_pk: str, ref: str) -> Response:
        services.remove_container(
            self.who, self.host, ref, force=_flag(request, "force"), volumes=_flag(request, "volumes")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _lifecycle(self, ref: str, verb: str, **params: Any) -> Response:
        services.container_action(self.who, self.host, ref, verb, **params)
        return Response({"id": ref, "action": verb, "ok": True})

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "start")

    @extend_schema(
        request=None, parameters=[OpenApiParameter("t", OpenApiTypes.INT)], responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "stop", t=_int_param(request, "t"))

    @extend_schema(
        request=None, parameters=[OpenApiParameter("t", OpenApiTypes.INT)], responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "restart", t=_int_param(request, "t"))

    @extend_schema(
        request=None, parameters=[OpenApiParameter("signal", OpenApiTypes.STR)], responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["post"])
    def kill(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "kill", signal=request.query_params.get("signal") or None)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "pause")

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def unpause(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._lifecycle(ref, "unpause")

    @extend_schema(request=RenameSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def rename(self, request: Request, host_pk: str, ref: str) -> Response:
        serializer = RenameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.rename_container(self.who, self.host, ref, serializer.validated_data["name"])
        return Response({"id": ref, "name": serializer.validated_data["name"]})

    @extend_schema(parameters=[OpenApiParameter("ps_args", OpenApiTypes.STR)], responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def top(self, request: Request, host_pk: str, ref: str) -> Response:
        return Response(
            services.container_top(self.who, self.host, ref, request.query_params.get("ps_args", ""))
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def changes(self, request: Request, host_pk: str, ref: str) -> Response:
        return Response(services.container_changes(self.who, self.host, ref))

    @extend_schema(
        parameters=[
            OpenApiParameter("stdout", OpenApiTypes.BOOL, description="default true"),
            OpenApiParameter("stderr", OpenApiTypes.BOOL, description="default true"),
            OpenApiParameter("tail", OpenApiTypes.STR, description="a number of lines, or all"),
            OpenApiParameter("since", OpenApiTypes.INT, description="unix time"),
            OpenApiParameter("until", OpenApiTypes.INT, description="unix time"),
            OpenApiParameter("timestamps", OpenApiTypes.BOOL),
        ],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, host_pk: str, ref: str) -> StreamingHttpResponse:
        """The logs as a text download, streamed."""
        tail = request.query_params.get("tail", "all")
        if tail != "all" and not tail.isdigit():
            raise exceptions.ValidationError({"tail": "A number of lines, or all."})
        params: dict[str, Any] = {
            "stdout": request.query_params.get("stdout", "true").lower() != "false",
            "stderr": request.query_params.get("stderr", "true").lower() != "false",
            "timestamps": _flag(request, "timestamps"),
            "tail": int(tail) if tail.isdigit() else "all",
        }
        for name in ("since", "until"):
            if (value := _int_param(request, name)) is not None:
                params[name] = value
        stream = services.container_logs(self.who, self.host, ref, **params)
        response = StreamingHttpResponse(stream, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{ref}.log"'
        return response

    @extend_schema(
        methods=["GET"],
        parameters=[OpenApiParameter("path", OpenApiTypes.STR, required=True)],
        responses={(200, "application/x-tar"): OpenApiTypes.BINARY},
    )
    @extend_schema(
        methods=["PUT"],
        parameters=[OpenApiParameter("path", OpenApiTypes.STR, required=True)],
        request={"application/x-tar": OpenApiTypes.BINARY},
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get", "put"], parser_classes=[TarParser])
    def archive(self, request: Request, host_pk: str, ref: str) -> Any:
        """`docker cp`: GET a tar of `path`, or PUT a tar to extract at `path`."""
        path = request.query_params.get("path")
        if not path or not path.startswith("/"):
            raise exceptions.ValidationError({"path": "An absolute path in the container is required."})
        if request.method == "PUT":
            services.archive_put(self.who, self.host, ref, path, request.data)
            return Response({"id": ref, "path": path, "ok": True})
        stream, stat = services.archive_get(self.who, self.host, ref, path)
        response = StreamingHttpResponse(stream, content_type="application/x-tar")
        name = (stat.get("name") or "archive").replace('"', "")
        response["Content-Disposition"] = f'attachment; filename="{name}.tar"'
        return response

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def prune(self, request: Request, host_pk: str) -> Response:
        """Remove every stopped container of the host (host admins)."""
        return Response(services.prune_containers(self.who, self.host))
