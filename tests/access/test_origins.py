"""Browser sessions are bound to the dashboard's origin: scheme + host + port for websockets, Django's CSRF
check for unsafe REST calls on a session. Bearer-token clients (scripts, the CLI) need neither."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import User
from django.test import Client, override_settings
from rest_framework.test import APIClient

from hosts.auth import ORIGIN_REFUSED
from hosts.models import ApiToken, Host
from tests.containers.test_ws_support import application

HOST = "localhost:8000"


def _session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _handshake(
    path: str, *, origin: str | None, host: str = HOST, scheme: str = "ws", cookie: bytes | None = None
) -> ApplicationCommunicator:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    path, _, query = path.partition("?")
    scope = {
        "type": "websocket",
        "scheme": scheme,
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
        "subprotocols": [],
    }
    return ApplicationCommunicator(application(), scope)


async def _first_answer(ws: ApplicationCommunicator) -> dict[str, Any]:
    """The handshake's outcome: the close of a refused socket, or the first message of an accepted one."""
    await ws.send_input({"type": "websocket.connect"})
    answer: dict[str, Any] = await ws.receive_output(10)
    if answer["type"] == "websocket.accept":
        first: dict[str, Any] = await ws.receive_output(10)
        await ws.send_input({"type": "websocket.disconnect", "code": 1000})
        await ws.wait(5)
        return first
    return answer


def _answer(path: str, **handshake: Any) -> dict[str, Any]:
    async def scenario() -> dict[str, Any]:
        return await _first_answer(_handshake(path, **handshake))

    answer: dict[str, Any] = async_to_sync(scenario)()
    return answer


def _ready(answer: dict[str, Any]) -> bool:
    return answer["type"] == "websocket.send" and json.loads(answer["text"])["type"] == "ready"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8001",  # another port of the same host name: another site, same cookies
        "https://localhost:8000",  # another scheme
        "http://localhost",  # the default port is another port
        "http://evil.example:8000",
        "null",  # sandboxed frames and file:// pages
    ],
)
def test_a_session_socket_from_another_origin_is_closed_before_it_opens(
    unix_host: Host, alice: User, origin: str
) -> None:
    answer = _answer(f"/ws/events/?hosts={unix_host.pk}", origin=origin, cookie=_session_cookie(alice))
    assert answer["type"] == "websocket.close", answer
    assert answer["code"] == ORIGIN_REFUSED and "origin" in answer["reason"]


@pytest.mark.django_db(transaction=True)
def test_a_session_socket_from_the_dashboards_own_origin_opens(unix_host: Host, alice: User) -> None:
    answer = _answer(
        f"/ws/events/?hosts={unix_host.pk}", origin=f"http://{HOST}", cookie=_session_cookie(alice)
    )
    assert _ready(answer), answer


@pytest.mark.django_db(transaction=True)
def test_behind_tls_the_origin_must_be_https(unix_host: Host, alice: User) -> None:
    path, cookie = f"/ws/events/?hosts={unix_host.pk}", _session_cookie(alice)
    assert _ready(_answer(path, origin="https://localhost", host="localhost", scheme="wss", cookie=cookie))
    refused = _answer(path, origin="http://localhost", host="localhost", scheme="wss", cookie=cookie)
    assert refused["type"] == "websocket.close" and refused["code"] == ORIGIN_REFUSED


@pytest.mark.django_db(transaction=True)
def test_an_origin_is_judged_against_a_host_the_site_serves(unix_host: Host, alice: User) -> None:
    # A Host header outside ALLOWED_HOSTS proves nothing, even when the Origin repeats it.
    answer = _answer(
        f"/ws/events/?hosts={unix_host.pk}",
        origin="http://evil.example",
        host="evil.example",
        cookie=_session_cookie(alice),
    )
    assert answer["type"] == "websocket.close" and answer["code"] == ORIGIN_REFUSED


@pytest.mark.django_db(transaction=True)
@override_settings(CSRF_TRUSTED_ORIGINS=["http://localhost:5173", "https://*.example.com"])
def test_trusted_origins_are_the_csrf_ones(unix_host: Host, alice: User) -> None:
    path, cookie = f"/ws/events/?hosts={unix_host.pk}", _session_cookie(alice)
    assert _ready(_answer(path, origin="http://localhost:5173", cookie=cookie))  # the Vite dev server
    assert _ready(_answer(path, origin="https://dash.example.com", cookie=cookie))
    refused = _answer(path, origin="http://dash.example.com", cookie=cookie)
    assert refused["type"] == "websocket.close" and refused["code"] == ORIGIN_REFUSED


@pytest.mark.django_db(transaction=True)
def test_a_script_without_origin_connects_with_its_token(unix_host: Host, alice: User) -> None:
    _, token = ApiToken.issue(alice, "script")

    async def scenario() -> dict[str, Any]:
        ws = _handshake(f"/ws/events/?hosts={unix_host.pk}", origin=None)
        ws.scope["headers"].append((b"authorization", f"Bearer {token}".encode()))
        return await _first_answer(ws)

    assert _ready(async_to_sync(scenario)())


def _signed_in(user: User) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_session_write_without_csrf_is_refused(alice: User) -> None:
    response = _signed_in(alice).post("/api/v1/tokens/", {"name": "no-csrf"}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "permission_denied"
    assert body["detail"].startswith("CSRF Failed")
    assert not ApiToken.objects.filter(name="no-csrf").exists()


@pytest.mark.django_db
def test_a_session_write_with_the_csrf_token_is_accepted(alice: User) -> None:
    client = _signed_in(alice)
    csrf = client.get("/auth/session/").cookies["csrftoken"].value
    response = client.post("/api/v1/tokens/", {"name": "csrf"}, format="json", headers={"X-CSRFToken": csrf})
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_a_session_write_from_another_origin_is_refused_even_with_the_token(alice: User) -> None:
    client = _signed_in(alice)
    csrf = client.get("/auth/session/").cookies["csrftoken"].value
    response = client.post(
        "/api/v1/tokens/",
        {"name": "other-port"},
        format="json",
        headers={"X-CSRFToken": csrf, "Origin": "http://testserver:8001"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied" and "Origin" in response.json()["detail"]


@pytest.mark.django_db
def test_a_bearer_token_write_needs_no_csrf(alice: User) -> None:
    _, token = ApiToken.issue(alice, "ci")
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.post("/api/v1/tokens/", {"name": "from-ci"}, format="json").status_code == 201
