"""Serializers for containers: summaries, and a create body with friendly fields for the common options."""

from __future__ import annotations

import shlex
from typing import Any

from rest_framework import serializers

RESTART_POLICIES = ["no", "always", "unless-stopped", "on-failure"]


class ContainerSummarySerializer(serializers.Serializer[dict[str, Any]]):
    host = serializers.IntegerField()
    host_name = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()
    image = serializers.CharField()
    command = serializers.CharField()
    state = serializers.CharField()
    status = serializers.CharField()
    created = serializers.IntegerField(allow_null=True)
    ports = serializers.ListField(child=serializers.DictField())
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    compose_project = serializers.CharField(allow_blank=True)
    compose_service = serializers.CharField(allow_blank=True)
    owner = serializers.CharField(allow_blank=True)


class PortSerializer(serializers.Serializer[dict[str, Any]]):
    container_port = serializers.IntegerField(min_value=1, max_value=65535)
    host_port = serializers.IntegerField(min_value=0, max_value=65535, required=False, allow_null=True)
    protocol = serializers.ChoiceField(choices=["tcp", "udp", "sctp"], default="tcp")
    host_ip = serializers.IPAddressField(required=False, allow_blank=True, default="")


class VolumeMountSerializer(serializers.Serializer[dict[str, Any]]):
    volume = serializers.CharField(help_text="A named volume (or a host path, which the policy may refuse)")
    target = serializers.CharField()
    readonly = serializers.BooleanField(default=False)

    def validate_target(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError("The mount target must be an absolute path in the container.")
        return value


class ContainerCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Either `engine_body` (the engine's own create body) or the friendly fields, or both: friendly fields
    are applied on top of `engine_body`. The admission policy checks the resulting engine body."""

    name = serializers.RegexField(
        r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", required=False, allow_blank=True, max_length=128
    )
    image = serializers.CharField(required=False, max_length=512)
    command = serializers.JSONField(
        required=False, help_text="A list of arguments, or a string split like a shell"
    )
    entrypoint = serializers.ListField(child=serializers.CharField(), required=False)
    env = serializers.JSONField(required=False, help_text='{"NAME": "value"} or ["NAME=value"]')
    ports = PortSerializer(many=True, required=False)
    volumes = VolumeMountSerializer(many=True, required=False)
    restart_policy = serializers.ChoiceField(choices=RESTART_POLICIES, required=False)
    memory = serializers.IntegerField(min_value=4 * 1024 * 1024, required=False, help_text="Bytes")
    cpus = serializers.FloatField(min_value=0.01, required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    network = serializers.CharField(required=False, max_length=255)
    tty = serializers.BooleanField(required=False)
    stdin_open = serializers.BooleanField(required=False)
    working_dir = serializers.CharField(required=False, allow_blank=True)
    user = serializers.CharField(required=False, allow_blank=True)
    engine_body = serializers.DictField(required=False, help_text="The engine's container create body")
    pull = serializers.BooleanField(default=False, help_text="run only: pull the image first when missing")

    def validate_command(self, value: Any) -> list[str]:
        if isinstance(value, str):
            return shlex.split(value)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        raise serializers.ValidationError("Give a list of strings or a command line string.")

    def validate_env(self, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [f"{key}={item}" for key, item in value.items()]
        if isinstance(value, list) and all(isinstance(item, str) and "=" in item for item in value):
            return value
        raise serializers.ValidationError('Give {"NAME": "value"} or a list of "NAME=value".')

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        body = dict(attrs.get("engine_body") or {})
        if not attrs.get("image") and not any(key.lower() == "image" for key in body):
            raise serializers.ValidationError({"image": "Name the image to run."})
        attrs["body"] = engine_body(attrs, body)
        return attrs


def engine_body(fields: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The engine create body: `body` with the friendly fields written into it."""
    host_config = dict(body.get("HostConfig") or {})
    simple = {
        "image": "Image",
        "command": "Cmd",
        "entrypoint": "Entrypoint",
        "env": "Env",
        "tty": "Tty",
        "working_dir": "WorkingDir",
        "user": "User",
    }
    for field, key in simple.items():
        if field in fields:
            body[key] = fields[field]
    if fields.get("stdin_open"):
        body.update(OpenStdin=True, AttachStdin=True, StdinOnce=False)
    if "labels" in fields:
        body["Labels"] = {**(body.get("Labels") or {}), **fields["labels"]}
    if fields.get("ports"):
        exposed = dict(body.get("ExposedPorts") or {})
        bindings = dict(host_config.get("PortBindings") or {})
        for port in fields["ports"]:
            key = f"{port['container_port']}/{port['protocol']}"
            exposed[key] = {}
            host_port = port.get("host_port")
            binding = {"HostIp": port.get("host_ip") or "", "HostPort": str(host_port) if host_port else ""}
            bindings.setdefault(key, []).append(binding)
        body["ExposedPorts"] = exposed
        host_config["PortBindings"] = bindings
    if fields.get("volumes"):
        binds = list(host_config.get("Binds") or [])
        binds += [f"{v['volume']}:{v['target']}{':ro' if v['readonly'] else ''}" for v in fields["volumes"]]
        host_config["Binds"] = binds
    if "restart_policy" in fields:
        host_config["RestartPolicy"] = {
            "Name": "" if fields["restart_policy"] == "no" else fields["restart_policy"]
        }
    if "memory" in fields:
        host_config["Memory"] = fields["memory"]
    if "cpus" in fields:
        host_config["NanoCpus"] = int(fields["cpus"] * 1e9)
    if "network" in fields:
        host_config["NetworkMode"] = fields["network"]
    if host_config:
        body["HostConfig"] = host_config
    return body


class RenameSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.RegexField(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=128)


class BulkSerializer(serializers.Serializer[dict[str, Any]]):
    action = serializers.ChoiceField(
        choices=["start", "stop", "restart", "kill", "pause", "unpause", "remove"]
    )
    containers = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=200, help_text='[{"host": 1, "id": "..."}]'
    )
    force = serializers.BooleanField(default=False, help_text="remove: also running containers")

    def validate_containers(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in value:
            if not isinstance(item.get("host"), int) or not isinstance(item.get("id"), str) or not item["id"]:
                raise serializers.ValidationError(
                    'Each item needs "host" (an id) and "id" (a container id or name).'
                )
        return value
