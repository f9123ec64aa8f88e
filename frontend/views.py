"""The dashboard: the single-page app's index.html for every dashboard route, and a JSON session login.

The app itself (`frontend/src`, built by Vite into `frontend/dist`) talks only to the public REST API and
websockets. Its assets are static files under STATIC_URL (`dist/dashboard/`, served by whitenoise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

DIST_DIR = Path(__file__).resolve().parent / "dist"

_index_cache: dict[str, Any] = {"key": None, "html": b""}


def dist_dir() -> Path:
    """Where the built app is (a `DOCKERWEB_FRONTEND_DIST` setting may move it, e.g. for a package)."""
    return Path(getattr(settings, "DOCKERWEB_FRONTEND_DIST", DIST_DIR))


def _index_html() -> bytes | None:
    """The built index.html, re-read when the build changes; None when the app has not been built."""
    index = dist_dir() / "index.html"
    try:
        mtime = index.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = (str(index), mtime)
    if _index_cache["key"] != key:
        _index_cache.update(key=key, html=index.read_bytes())
    html: bytes = _index_cache["html"]
    return html


@never_cache
@ensure_csrf_cookie
@require_GET
def spa(request: HttpRequest, path: str = "") -> HttpResponse:
    """Every dashboard route answers with the app; the app routes on the client and asks the API for data."""
    html = _index_html()
    if html is None:
        return render(request, "frontend/needs_build.html", {"dist": dist_dir()}, status=503)
    return HttpResponse(html, content_type="text/html; charset=utf-8")


def _error(status: int, detail: str, code: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _session_body(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"authenticated": False, "username": None, "is_superuser": False}
    return {"authenticated": True, "username": user.get_username(), "is_superuser": user.is_superuser}


@never_cache
@ensure_csrf_cookie
@require_GET
def session(request: HttpRequest) -> JsonResponse:
    """Who is signed in (if anyone); sets the CSRF cookie the app sends back on writes."""
    return JsonResponse(_session_body(request))


@never_cache
@require_POST
def session_login(request: HttpRequest) -> JsonResponse:
    """`{"username", "password"}` → a Django session (CSRF-checked like every form post)."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, 'Send JSON: {"username": ..., "password": ...}.', "invalid")
    if not isinstance(data, dict):
        return _error(400, "Send a JSON object.", "invalid")
    username, password = data.get("username"), data.get("password")
    missing = {
        name: ["This field is required."]
        for name, value in (("username", username), ("password", password))
        if not isinstance(value, str) or not value
    }
    if missing:
        return _error(400, f"{next(iter(missing))}: This field is required.", "invalid", missing)
    user = authenticate(request, username=username, password=password)
    if user is None:
        return _error(
            400,
            "Your username and password didn't match, or the account is inactive.",
            "invalid_credentials",
        )
    login(request, user)
    return JsonResponse(_session_body(request))


@never_cache
@require_http_methods(["POST"])
def session_logout(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse(_session_body(request))
