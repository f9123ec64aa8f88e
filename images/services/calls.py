"""The engine calls each job kind makes, as EngineRequests: admitted when the job is created and again when
it runs (a role can change in between); the runner sends the requests that second admission returned."""

from __future__ import annotations

import json
from typing import Any

from hosts.access import Caller
from hosts.admission import admit
from hosts.engine.request import EngineRequest, Kind, check_reference
from hosts.models import Host
from images.models import JobKind
from images.registry import split_reference


def _flag(value: Any) -> list[str]:
    return ["1" if value else "0"]


def pull_call(params: dict[str, Any]) -> EngineRequest:
    repository, tag = split_reference(check_reference(Kind.IMAGE, params["image"], "image"))
    query = {"fromImage": [repository], "tag": [tag]}
    if params.get("platform"):
        query["platform"] = [params["platform"]]
    return EngineRequest.build("POST", "/images/create", query=query)


def push_calls(image: str, source: str = "") -> list[EngineRequest]:
    """Tag `source` as `image` first when asked, then push `image`."""
    repository, tag = split_reference(check_reference(Kind.IMAGE, image, "image"))
    calls = []
    if source and source != image:
        tag_query = {"repo": repository, "tag": tag}
        calls.append(
            EngineRequest.build("POST", "/images/{image}/tag", source, query=tag_query, field="source")
        )
    calls.append(
        EngineRequest.build("POST", "/images/{image}/push", repository, query={"tag": tag}, field="image")
    )
    return calls


def build_call(params: dict[str, Any]) -> EngineRequest:
    query: dict[str, list[str]] = {
        "t": [check_reference(Kind.IMAGE, tag, "tags") for tag in params.get("tags") or []],
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
    content_type = None if params.get("remote") else "application/x-tar"
    return EngineRequest.build("POST", "/build", query=query, content_type=content_type)


def commit_call(params: dict[str, Any]) -> EngineRequest:
    image = params.get("image")
    repository, tag = split_reference(check_reference(Kind.IMAGE, image, "image")) if image else ("", "")
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
    check_reference(Kind.CONTAINER, params["container"], "container")
    return EngineRequest.build("POST", "/commit", query=query)


def calls_for(kind: str, params: dict[str, Any]) -> list[EngineRequest]:
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


def admit_job(who: Caller, host: Host, kind: str, params: dict[str, Any]) -> list[EngineRequest]:
    """Every call of the job as admitted for the caller, to be sent as they are; raises AccessDenied,
    policy.Denied or BadReference."""
    return [admit(who, host, call) for call in calls_for(kind, params)]
