"""The engine calls each job kind makes, as (method, path, query): admitted when the job is created and
again when it runs (a role can change in between), and used by the runner to make them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from hosts.access import Caller
from hosts.admission import admit
from hosts.models import Host
from images.models import JobKind
from images.registry import split_reference


@dataclass(frozen=True)
class EngineCall:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    content_type: str | None = None

    def params(self) -> httpx.QueryParams:
        """The query as httpx params (repeated keys kept)."""
        return httpx.QueryParams([(key, value) for key, values in self.query.items() for value in values])


def _flag(value: Any) -> list[str]:
    return ["1" if value else "0"]


def pull_call(params: dict[str, Any]) -> EngineCall:
    repository, tag = split_reference(params["image"])
    query = {"fromImage": [repository], "tag": [tag]}
    if params.get("platform"):
        query["platform"] = [params["platform"]]
    return EngineCall("POST", "/images/create", query)


def push_calls(image: str, source: str = "") -> list[EngineCall]:
    """Tag `source` as `image` first when asked, then push `image`."""
    repository, tag = split_reference(image)
    calls = []
    if source and source != image:
        calls.append(EngineCall("POST", f"/images/{source}/tag", {"repo": [repository], "tag": [tag]}))
    calls.append(EngineCall("POST", f"/images/{repository}/push", {"tag": [tag]}))
    return calls


def build_call(params: dict[str, Any]) -> EngineCall:
    query: dict[str, list[str]] = {
        "t": list(params.get("tags") or []),
        "rm": ["1"],
        "forcerm": ["1"],  # a failed step's container is removed too
        "nocache": _flag(params.get("nocache")),
        "pull": _flag(params.get("pull")),
    }
    if params.get("dockerfile"):
        query["dockerfile"] = [params["dockerfile"]]
    if params.get("target"):
        query["target"] = [params["target"]]
    if params.get("buildargs"):
        query["buildargs"] = [json.dumps(params["buildargs"])]
    if params.get("labels"):
        query["labels"] = [json.dumps(params["labels"])]
    if params.get("networkmode"):
        query["networkmode"] = [params["networkmode"]]
    if params.get("platform"):
        query["platform"] = [params["platform"]]
    if params.get("remote"):
        query["remote"] = [params["remote"]]
    return EngineCall("POST", "/build", query, None if params.get("remote") else "application/x-tar")


def commit_call(params: dict[str, Any]) -> EngineCall:
    repository, tag = split_reference(params["image"]) if params.get("image") else ("", "")
    query: dict[str, list[str]] = {
        "container": [params["container"]],
        "pause": _flag(params.get("pause", True)),
    }
    if repository:
        query.update(repo=[repository], tag=[tag])
    for name in ("comment", "author"):
        if params.get(name):
            query[name] = [params[name]]
    if params.get("changes"):
        query["changes"] = list(params["changes"])
    return EngineCall("POST", "/commit", query)


def calls_for(kind: str, params: dict[str, Any]) -> list[EngineCall]:
    """Every engine call a job of `kind` with `params` will make."""
    if kind == JobKind.PULL:
        return [pull_call(params)]
    if kind == JobKind.PUSH:
        return push_calls(params["image"], params.get("source", ""))
    if kind == JobKind.BUILD:
        pushes = [call for tag in params.get("tags") or [] if params.get("push") for call in push_calls(tag)]
        return [build_call(params), *pushes]
    if kind == JobKind.COMMIT:
        return [commit_call(params)]
    raise ValueError(f"unknown job kind {kind!r}")


def admit_job(who: Caller, host: Host, kind: str, params: dict[str, Any]) -> None:
    """Raise AccessDenied or policy.Denied unless every call of the job is admitted for the caller."""
    for call in calls_for(kind, params):
        admit(who, host, call.method, call.path, call.query, call.content_type, b"")
