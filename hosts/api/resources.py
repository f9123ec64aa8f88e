"""REST views for a host's networks, volumes and engine events."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hosts import resources
from hosts.api.scoped import HostScopedViewSet

NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"


class NetworkCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.RegexField(NAME, max_length=128)
    driver = serializers.CharField(default="bridge", max_length=64)
    internal = serializers.BooleanField(default=False)
    attachable = serializers.BooleanField(default=False)
    subnet = serializers.CharField(required=False, max_length=64, help_text="e.g. 10.20.0.0/24")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    options = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def engine_body(self) -> dict[str, Any]:
        data = self.validated_data
        body: dict[str, Any] = {
            "Name": data["name"],
            "Driver": data["driver"],
            "Internal": data["internal"],
            "Attachable": data["attachable"],
            "Labels": data.get("labels") or {},
            "Options": data.get("options") or {},
            "CheckDuplicate": True,
        }
        if data.get("subnet"):
            body["IPAM"] = {"Driver": "default", "Config": [{"Subnet": data["subnet"]}]}
        return body


class VolumeCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.RegexField(NAME, max_length=128)
    driver = serializers.CharField(default="local", max_length=64)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    driver_opts = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def engine_body(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "Name": data["name"],
            "Driver": data["driver"],
            "Labels": data.get("labels") or {},
            "DriverOpts": data.get("driver_opts") or {},
        }


class ConnectSerializer(serializers.Serializer[dict[str, Any]]):
    container = serializers.CharField(max_length=128)
    force = serializers.BooleanField(default=False, help_text="disconnect only")


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


class NetworkViewSet(HostScopedViewSet):
    """A host's networks, with the containers using each."""

    serializer_class = NetworkCreateSerializer
    lookup_field = "ref"
    lookup_value_regex = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"

    @extend_schema(operation_id="hosts_networks_list", responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request, host_pk: str) -> Response:
        return Response(resources.list_networks(self.who, self.host))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, host_pk: str, ref: str) -> Response:
        return Response(resources.inspect_network(self.who, self.host, ref))

    @extend_schema(request=NetworkCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request, host_pk: str) -> Response:
        serializer = NetworkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = resources.create_network(self.who, self.host, serializer.engine_body())
        return Response(
            {**created, "name": serializer.validated_data["name"]}, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, host_pk: str, ref: str) -> Response:
        resources.remove_network(self.who, self.host, ref)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ConnectSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._attach(request, ref, connect=True)

    @extend_schema(request=ConnectSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, host_pk: str, ref: str) -> Response:
        return self._attach(request, ref, connect=False)

    def _attach(self, request: Request, ref: str, *, connect: bool) -> Response:
        serializer = ConnectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        container, force = serializer.validated_data["container"], serializer.validated_data["force"]
        resources.connect_network(self.who, self.host, ref, container, connect=connect, force=force)
        return Response({"network": ref, "container": container, "connected": connect})

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def prune(self, request: Request, host_pk: str) -> Response:
        """Remove every unused network of the host (host admins)."""
        return Response(resources.prune(self.who, self.host, "networks"))


class VolumeViewSet(HostScopedViewSet):
    """A host's volumes, with the containers using each."""

    serializer_class = VolumeCreateSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"

    @extend_schema(operation_id="hosts_volumes_list", responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request, host_pk: str) -> Response:
        return Response(resources.list_volumes(self.who, self.host))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, host_pk: str, name: str) -> Response:
        return Response(resources.inspect_volume(self.who, self.host, name))

    @extend_schema(request=VolumeCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request, host_pk: str) -> Response:
        serializer = VolumeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = resources.create_volume(self.who, self.host, serializer.engine_body())
        return Response(created, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("force", OpenApiTypes.BOOL)], responses={204: None})
    def destroy(self, request: Request, host_pk: str, name: str) -> Response:
        resources.remove_volume(self.who, self.host, name, force=_flag(request, "force"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def prune(self, request: Request, host_pk: str) -> Response:
        """Remove every unused volume of the host (host admins)."""
        return Response(resources.prune(self.who, self.host, "volumes"))


class EventViewSet(HostScopedViewSet):
    """Engine events of a host, as `docker events --since --until` (ownership-filtered below admin)."""

    serializer_class = ConnectSerializer  # unused: events are read-only

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.NUMBER, description="unix time (default: until - 1 h)"),
            OpenApiParameter("until", OpenApiTypes.NUMBER, description="unix time (default: now)"),
            OpenApiParameter(
                "filters", OpenApiTypes.STR, description='engine filters as JSON: {"type": ["container"]}'
            ),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def list(self, request: Request, host_pk: str) -> Response:
        bounds = {}
        for name in ("since", "until"):
            raw = request.query_params.get(name)
            try:
                bounds[name] = float(raw) if raw else None
            except ValueError as exc:
                raise exceptions.ValidationError({name: "Must be a unix time."}) from exc
        try:
            filters = json.loads(request.query_params.get("filters") or "{}")
            if not isinstance(filters, dict) or not all(isinstance(v, list) for v in filters.values()):
                raise ValueError
        except ValueError as exc:
            raise exceptions.ValidationError({"filters": 'Give JSON like {"type": ["container"]}.'}) from exc
        return Response(resources.events(self.who, self.host, filters=filters, **bounds))
