"""The cross-team corpus (tests/access/cross_team_corpus.py) against both engines: every attempt by team A
is refused in the entry point's error shape, leaves team B's objects as they were on the engine (and
creates nothing), never shows B's secret, and is audited as a denial."""

from __future__ import annotations

import io
import json
import re
import socket
import tarfile
import time
from collections.abc import Callable
from http.client import HTTPResponse
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from hosts.models import AuditEntry
from images.models import Job
from tests.access.conftest import (
    OPERATOR_A,
    OPERATOR_B,
    ROUTE_WORDS,
    SECRET,
    VIEWER_A,
    Cast,
    World,
    build_context,
    retagged_save,
)
from tests.access.cross_team_corpus import ATTEMPTS, OPERATOR, Attempt, Raw
from tests.containers.test_ws_support import Closed, communicator, receive

ENGINES = ("unix", "tls")
USERS = {OPERATOR: OPERATOR_A, "viewer": VIEWER_A}
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\d+))?\}")
# Websocket consumers that audit their sessions (reads -- logs, stats, jobs -- are not audited, as REST GETs).
AUDITED_SOCKETS = ("/exec/", "/attach/")
WS_WAIT = 3.0  # seconds for a socket's first message or close


def fill(template: Any, refs: dict[str, str]) -> Any:
    """The template with `{key}` / `{key:N}` replaced; `"{pk}"` alone becomes the host's integer id."""
    if isinstance(template, str):
        if template == "{pk}":
            return int(refs["pk"])

        def one(match: re.Match[str]) -> str:
            key, length = match.group(1), match.group(2)
            if key not in refs:
                return match.group(0)
            return refs[key][: int(length)] if length else refs[key]

        return _PLACEHOLDER.sub(one, template)
    if isinstance(template, dict):
        return {fill(k, refs): fill(v, refs) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(item, refs) for item in template]
    return template


# What the engine holds, to compare before and after an attempt


def snapshot(world: World) -> dict[str, Any]:
    """Team B's objects (and everything else on the engine that an attempt could create or change)."""
    api, refs = world.api, world.targets.refs
    state: dict[str, Any] = {}
    for info in api.containers(all=True):
        mounts = sorted(str(m.get("Name") or m.get("Source")) for m in info.get("Mounts") or [])
        networks = sorted((info.get("NetworkSettings") or {}).get("Networks") or {})
        labels = sorted((info.get("Labels") or {}).items())
        state[f"container {info['Id'][:12]}"] = (info["Names"], info["State"], labels, mounts, networks)
    for key in ("run", "stop", *(f"w_{word}" for word in ROUTE_WORDS)):
        detail = api.inspect_container(refs[f"{key}_id"])
        state[f"inspect {key}"] = (
            detail["Name"], detail["State"]["StartedAt"], detail["State"]["FinishedAt"],
            detail["RestartCount"], detail["ExecIDs"], detail["HostConfig"]["RestartPolicy"],
            detail["Config"]["Env"],
        )  # fmt: skip
    exec_state = api.exec_inspect(refs["exec"])
    state["exec"] = (exec_state["Running"], exec_state["Pid"], exec_state["ExitCode"])
    for volume in api.volumes().get("Volumes") or []:
        state[f"volume {volume['Name']}"] = sorted((volume.get("Labels") or {}).items())
    for network in api.networks():
        state[f"network {network['Name']}"] = (network["Id"], sorted((network.get("Labels") or {}).items()))
    for key in ("net", "a_net"):
        state[f"members {key}"] = sorted(api.inspect_network(refs[key])["Containers"] or {})
    for image in api.images(all=True):
        state[f"image {image['Id']}"] = sorted(image.get("RepoTags") or [])
    for key in ("job", "failed_job"):
        job = Job.objects.get(pk=refs[key])
        state[key] = (job.status, job.cancel_requested, job.attempts)
    return state


# Per engine, the snapshot taken after the last attempt that changed nothing: the next attempt's "before".
_settled: dict[str, dict[str, Any]] = {}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changed = [
        f"changed {k}: {before[k]!r} -> {after[k]!r}" for k in before if k in after and before[k] != after[k]
    ]
    return (
        [f"gone {k}: {before[k]!r}" for k in before.keys() - after.keys()]
        + [f"new {k}: {after[k]!r}" for k in after.keys() - before.keys()]
        + changed
    )


def restore(world: World, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Undo what an attempt that got through did, so the next attempts meet the same objects."""
    api, refs = world.api, world.targets.refs
    for key in after.keys() - before.keys():
        kind, _, name = key.partition(" ")
        if kind == "container":
            for info in api.containers(all=True, filters={"id": name}):
                api.remove_container(info["Id"], force=True)
        elif kind == "volume":
            api.remove_volume(name, force=True)
        elif kind == "network":
            api.remove_network(name)
    for key in after:
        if key.startswith("image ") and key in before:
            for tag in set(after[key]) - set(before[key]):
                api.remove_image(tag, noprune=True)
    for key in after.keys() - before.keys():
        if key.startswith("image "):
            api.remove_image(key.removeprefix("image "), force=True)
    for key in ("job", "failed_job"):
        if key in before:
            status, cancel, attempts = before[key]
            Job.objects.filter(pk=refs[key]).update(status=status, cancel_requested=cancel, attempts=attempts)
    world.ensure()


# The three entry points


def _body_bytes(attempt: Attempt, refs: dict[str, str], world: World) -> bytes | None:
    body = attempt.body
    if body is None:
        return None
    if isinstance(body, Raw):
        return raw_body(body.kind, refs, world)
    if isinstance(body, str):
        return str(fill(body, refs)).encode()
    return json.dumps(fill(body, refs)).encode()


def raw_body(kind: str, refs: dict[str, str], world: World) -> bytes:
    """The tar bodies: a build context, a docker save naming B's tag, a rootfs to import, a file."""
    if kind == "context":
        return build_context(f"FROM {refs['base']}\nLABEL xa=1\n")
    if kind == "load":
        return retagged_save(world.api, refs["a_img"], [refs["img"]])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("xa-was-here")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"xa"))
    return buffer.getvalue()


class Outcome:
    """What came back: a status (HTTP, or a websocket close code), the body or messages as text."""

    def __init__(self, status: int | None, text: str, content_type: str = "") -> None:
        self.status, self.text, self.content_type = status, text, content_type

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"{self.status} {self.content_type} {self.text[:300]!r}"


def via_rest(attempt: Attempt, token: str, refs: dict[str, str], world: World) -> Outcome:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    path = fill(attempt.path, refs)
    if not path.startswith("/api/"):
        path = f"/api/v1/hosts/{refs['pk']}{path}"
    body = _body_bytes(attempt, refs, world)
    response = client.generic(
        attempt.method,
        path,
        body or b"",  # type: ignore[arg-type]  # Django's generic() takes bytes
        content_type=attempt.content_type or "application/octet-stream",
    )
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    return Outcome(response.status_code, content.decode("utf-8", "replace"), response.get("Content-Type", ""))


def via_gateway(attempt: Attempt, token: str, refs: dict[str, str], world: World, port: int) -> Outcome:
    """A raw HTTP/1.1 request, bytes as written: no client library cleans the path or the headers."""
    target = f"/hosts/{refs['host']}{fill(attempt.path, refs)}".encode()
    body = _body_bytes(attempt, refs, world)
    head = [f"{attempt.method} ".encode() + target + b" HTTP/1.1", b"Host: docker", b"Connection: close"]
    head.append(f"Authorization: Bearer {token}".encode())
    head += [f"{name}: {value}".encode() for name, value in attempt.headers]
    if attempt.content_type is not None:
        head.append(b"Content-Type: " + attempt.content_type.encode("latin-1"))
    if body is not None or attempt.method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body or b'')}".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + (body or b""))
        response = HTTPResponse(sock, method=attempt.method)
        response.begin()
        chunks = []
        try:
            while chunk := response.read1(65536) if not response.isclosed() else b"":
                chunks.append(chunk)
        except (TimeoutError, OSError):
            pass  # a stream that stays open: what came so far is the answer
        text = b"".join(chunks).decode("utf-8", "replace")
        return Outcome(response.status, text, response.getheader("Content-Type") or "")


async def _websocket(path: str, token: str) -> Outcome:
    ws = communicator(path, token)
    try:
        connected, code = await ws.connect(timeout=WS_WAIT)
    except Exception as exc:  # the application failed on this path: a 5xx, not a refusal
        return Outcome(None, f"application error at connect: {exc!r}")
    if not connected:
        return Outcome(code, "rejected at connect without a message")
    frames: list[str] = []
    try:
        while True:
            frame = await receive(ws, WS_WAIT)
            frames.append(frame.decode("utf-8", "replace") if isinstance(frame, bytes) else json.dumps(frame))
            if not (isinstance(frame, dict) and frame.get("type") == "error"):
                await ws.disconnect()  # the session was let in: what it sent first is the evidence
                return Outcome(200, "\n".join(frames))
    except Closed as closed:
        return Outcome(closed.code, "\n".join(frames))
    except TimeoutError:
        return Outcome(None, f"no message and no close within {WS_WAIT:g} s: " + "\n".join(frames))


def via_websocket(attempt: Attempt, token: str, refs: dict[str, str]) -> Outcome:
    path = fill(attempt.path, refs)
    outcome: Outcome = async_to_sync(_websocket)(path, token)
    return outcome


# Verdicts


def refusal_problems(attempt: Attempt, outcome: Outcome) -> list[str]:
    """What is wrong with the answer as a refusal in the entry point's shape."""
    if attempt.via == "ws":
        if outcome.status is None or not 4400 <= outcome.status < 4500:
            return [f"not closed with a 44xx code: {outcome!r}"]
        if not any(json.loads(f).get("message") for f in outcome.text.splitlines() if f.startswith("{")):
            return [f"closed {outcome.status} without an error message first"]
        return []
    assert outcome.status is not None
    payload = outcome.json()
    if attempt.path.startswith("/api/v1/containers/bulk/") and outcome.status == 200 and payload:
        let_in = [r for r in payload.get("results", []) if r.get("ok") or not r.get("detail")]
        return [f"bulk item not refused: {let_in}"] if let_in else []
    if not 400 <= outcome.status < 500:
        return [f"not a 4xx refusal: {outcome!r}"]
    if attempt.method == "HEAD":  # a HEAD answer has no body to carry the error shape
        return []
    if not outcome.content_type.startswith("application/json") or not isinstance(payload, dict):
        return [f"refusal not in the JSON error shape: {outcome!r}"]
    keys = ("detail", "code") if attempt.via == "rest" else ("message",)
    if not all(isinstance(payload.get(key), str) and payload.get(key) for key in keys):
        return [f"refusal without {keys}: {outcome!r}"]
    return []


def audit_problems(attempt: Attempt, user: str, since: int, refs: dict[str, str]) -> list[str]:
    """The refusal must be in the audit log as a denial (websockets: the sessions that audit). A request
    line with raw non-ASCII bytes fails the HTTP parser (RFC 9112 request-target) before its credentials
    are read, as a forbidden header byte does (Attempt.audited): no caller to name."""
    raw_unicode = attempt.via == "gateway" and not fill(attempt.path, refs).isascii()
    if (
        raw_unicode
        or not attempt.audited
        or (attempt.via == "ws" and not any(word in attempt.path for word in AUDITED_SOCKETS))
    ):
        return []
    entry_point = {"rest": "rest", "gateway": "gateway", "ws": "ws"}[attempt.via]

    def rows() -> list[AuditEntry]:
        return list(AuditEntry.objects.filter(pk__gt=since, username=user, entry_point=entry_point))

    # The gateway writes the row of a relayed call once its response ended, just after the client has it.
    deadline = time.monotonic() + (10 if attempt.via == "gateway" else 0)
    found = rows()
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)  # the gateway writes the row of a relayed call once its response ended
        found = rows()
    if any(row.outcome == "denied" for row in found):
        return []
    seen = [(row.action, row.outcome, row.status_code) for row in found]
    return [f"no audit row with outcome denied (rows: {seen or 'none'})"]


def _last_audit_pk() -> int:
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    return int(last or 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_targets_are_what_their_owner_reaches(
    engine: str, cast: Cast, worlds: dict[str, World], committed: None
) -> None:
    """The corpus names real objects: B's own operator reads each of them, by the names the corpus uses."""
    refs = worlds[engine].targets.refs
    token = cast.tokens[OPERATOR_B]
    reads = [
        ("gateway", f"/v1.41/containers/{refs['run']}/json", refs["run_id"]),
        ("gateway", f"/v1.41/containers/{refs['run_id'][:12]}/json", refs["run_id"]),
        ("gateway", "/v1.41/containers/json/json", refs["w_json_id"]),
        ("gateway", f"/v1.41/exec/{refs['exec']}/json", refs["run_id"]),
        ("gateway", f"/v1.41/volumes/{refs['vol']}", refs["vol"]),
        ("gateway", f"/v1.41/networks/{refs['net']}", refs["net_id"]),
        ("gateway", f"/v1.41/images/{refs['img']}/json", refs["img_id"]),
        ("rest", f"/containers/{refs['run']}/", refs["run_id"]),
        ("rest", f"/containers/{refs['stop']}/", refs["stop_id"]),
        ("rest", f"/volumes/{refs['vol']}/", refs["vol"]),
        ("rest", f"/networks/{refs['net']}/", refs["net_id"]),
        ("rest", f"/api/v1/jobs/{refs['job']}/", refs["job"]),
    ]
    for via, path, expected in reads:
        read = Attempt("control", OPERATOR, via, "GET", path)
        outcome = (
            via_rest(read, token, refs, worlds[engine])
            if via == "rest"
            else via_gateway(read, token, refs, worlds[engine], cast.gateway.port)
        )
        assert outcome.status == 200 and expected in outcome.text, f"{via} {path}: {outcome!r}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.id for a in ATTEMPTS])
def test_team_a_cannot_reach_team_b(
    attempt: Attempt, engine: str, cast: Cast, worlds: dict[str, World], committed: None
) -> None:
    world = worlds[engine]
    refs = world.targets.refs
    user = USERS[attempt.who]
    token = cast.tokens[user]
    # The state the previous attempt on this engine left (and checked), else a fresh look: half the calls.
    before = _settled.pop(engine, None) or snapshot(world)
    since = _last_audit_pk()
    senders: dict[str, Callable[[], Outcome]] = {
        "rest": lambda: via_rest(attempt, token, refs, world),
        "gateway": lambda: via_gateway(attempt, token, refs, world, cast.gateway.port),
        "ws": lambda: via_websocket(attempt, token, refs),
    }
    outcome = senders[attempt.via]()
    after = snapshot(world)
    problems = refusal_problems(attempt, outcome)
    if SECRET in outcome.text:
        problems.append("team B's secret Env value is in the answer")
    touched = differences(before, after)
    if touched:
        problems.append(f"the engine changed: {touched}")
        restore(world, before, after)
    else:
        _settled[engine] = after
    problems += audit_problems(attempt, user, since, refs)
    assert not problems, f"{attempt.id} on {engine}: " + "; ".join(problems)
