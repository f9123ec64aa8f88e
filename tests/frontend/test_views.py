"""The dashboard's Django side: the app at every dashboard route, the needs-a-build page, the JSON login."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import override_settings

INDEX = (
    b'<!doctype html><html><head><script type="module" src="/static/dashboard/app.js"></script></head></html>'
)


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "index.html").write_bytes(INDEX)
    with override_settings(DOCKERWEB_FRONTEND_DIST=tmp_path):
        yield tmp_path


@pytest.mark.parametrize("path", ["/", "/login/", "/containers", "/hosts/3/containers/web/logs", "/tokens/"])
def test_every_dashboard_route_answers_with_the_app(built: Path, client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == INDEX
    assert response["Content-Type"].startswith("text/html")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "csrftoken" in response.cookies  # the app sends it back on writes


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/static/dashboard/missing.js", "/ws/events/"])
def test_api_static_and_websocket_paths_are_never_the_app(built: Path, client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.content != INDEX


def test_a_new_build_is_served_without_a_restart(built: Path, client: Client) -> None:
    assert client.get("/").content == INDEX
    (built / "index.html").write_bytes(b"<!doctype html><p>v2</p>")
    stat = (built / "index.html").stat()
    os.utime(built / "index.html", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert client.get("/").content == b"<!doctype html><p>v2</p>"


def test_without_a_build_the_dashboard_says_how_to_build_it(tmp_path: Path, client: Client) -> None:
    with override_settings(DOCKERWEB_FRONTEND_DIST=tmp_path / "missing"):
        response = client.get("/containers")
    assert response.status_code == 503
    text = response.content.decode()
    assert "The dashboard needs a build" in text
    assert "npm ci" in text and "/api/v1/docs/" in text


@pytest.mark.django_db
def test_session_login_logout_with_csrf(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    session = client.get("/auth/session/")
    assert session.json() == {"authenticated": False, "username": None, "is_superuser": False}
    token = session.cookies["csrftoken"].value

    body = json.dumps({"username": "alice", "password": "alice-password-1"})
    refused = client.post("/auth/login/", body, content_type="application/json")
    assert refused.status_code == 403  # no CSRF token: Django refuses before the view runs

    wrong = client.post(
        "/auth/login/",
        json.dumps({"username": "alice", "password": "nope"}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_credentials" and "didn't match" in wrong.json()["detail"]

    missing = client.post(
        "/auth/login/", json.dumps({"username": "alice"}), content_type="application/json",
        headers={"X-CSRFToken": token},
    )  # fmt: skip
    assert missing.status_code == 400
    assert missing.json()["fields"] == {"password": ["This field is required."]}

    ok = client.post("/auth/login/", body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 200
    assert ok.json() == {"authenticated": True, "username": "alice", "is_superuser": True}
    assert client.get("/api/v1/me/").json()["username"] == "alice"  # the API takes the session

    token = client.cookies["csrftoken"].value  # login rotates the CSRF token
    out = client.post("/auth/logout/", headers={"X-CSRFToken": token})
    assert out.status_code == 200 and out.json()["authenticated"] is False
    assert client.get("/api/v1/me/").status_code == 401


def test_login_takes_json_only(client: Client) -> None:
    response = client.post("/auth/login/", "username=a", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert client.get("/auth/login/").status_code == 405
