"""The registry client's auth flow and headers (pure logic: a fake token server, no network)."""

from __future__ import annotations

import base64
import json

import httpx

from images.models import Registry
from images.registry import (
    ANONYMOUS_AUTH,
    _RegistryAuth,
    registry_auth_header,
    registry_config_header,
    split_reference,
)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_bearer_token_dance_fetches_a_token_with_the_credentials_and_reuses_it() -> None:
    seen: list[str] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host}{request.url.path}")
        if request.url.host == "auth.example":
            assert request.headers["authorization"] == _basic("robot", "pw")
            assert request.url.params["scope"] == "registry:catalog:*"
            assert request.url.params["service"] == "registry.example"
            return httpx.Response(200, json={"token": "t-123"})
        if request.headers.get("authorization") == "Bearer t-123":
            return httpx.Response(200, json={"repositories": ["team/app"]})
        challenge = (
            'Bearer realm="https://auth.example/token",service="registry.example",scope="registry:catalog:*"'
        )
        return httpx.Response(401, headers={"www-authenticate": challenge})

    auth = _RegistryAuth("robot", "pw")
    with httpx.Client(
        transport=httpx.MockTransport(registry), base_url="https://registry.example", auth=auth
    ) as c:
        assert c.get("/v2/_catalog").json() == {"repositories": ["team/app"]}
        assert c.get("/v2/_catalog").status_code == 200
    assert seen == [
        "registry.example/v2/_catalog",
        "auth.example/token",
        "registry.example/v2/_catalog",
        "registry.example/v2/_catalog",  # the cached token: no second dance
    ]


def test_basic_challenges_are_answered_and_refusals_stand() -> None:
    def registry(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == _basic("u", "right"):
            return httpx.Response(200, json={})
        return httpx.Response(401, headers={"www-authenticate": 'Basic realm="r"'})

    transport = httpx.MockTransport(registry)
    for password, status in (("right", 200), ("wrong", 401)):
        with httpx.Client(
            transport=transport, base_url="http://r", auth=_RegistryAuth("u", password)
        ) as client:
            assert client.get("/v2/").status_code == status


def test_engine_auth_headers_carry_the_credentials_for_the_registry_address() -> None:
    registry = Registry(name="r", url="https://registry.example:5443", username="u", password="p")
    decoded = json.loads(base64.urlsafe_b64decode(registry_auth_header(registry)))
    assert decoded == {"username": "u", "password": "p", "serveraddress": "registry.example:5443"}
    assert registry_auth_header(None) == ANONYMOUS_AUTH
    assert registry_auth_header(Registry(name="open", url="http://x")) == ANONYMOUS_AUTH
    config = json.loads(base64.urlsafe_b64decode(registry_config_header([registry])))
    assert config == {"registry.example:5443": decoded}
    assert split_reference("localhost:5000/web") == ("localhost:5000/web", "latest")
    assert split_reference("localhost:5000/web:2") == ("localhost:5000/web", "2")
    assert split_reference("web@sha256:" + "a" * 64) == ("web", "sha256:" + "a" * 64)
