"""Personal API tokens: shown once, stored hashed, expiring, revocable."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from hosts.models import ApiToken, Grant, Host, Role

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_is_shown_once_and_stored_only_as_a_hash(bob: User) -> None:
    session = APIClient()
    session.force_authenticate(bob)
    created = session.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 30}, format="json")
    assert created.status_code == 201, created.json()
    plaintext = created.json()["token"]
    assert plaintext.startswith("dw_")

    row = ApiToken.objects.get(name="ci")
    secret = plaintext.split("_", 2)[2]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {row.key_id, row.secret_hash, row.name}
    assert row.expires_at is not None
    assert abs((row.expires_at - timezone.now()) - timedelta(days=30)) < timedelta(minutes=1)

    listing = bearer(plaintext).get("/api/v1/tokens/")
    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["results"]] == ["ci"]
    assert plaintext not in listing.content.decode() and "token" not in listing.json()["results"][0]
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_revoked_token_stops_working(bob: User, client_for: Callable[[User | None], APIClient]) -> None:
    _, plaintext = ApiToken.issue(bob, "laptop")
    api = bearer(plaintext)
    token_id = api.get("/api/v1/tokens/").json()["results"][0]["id"]
    assert api.delete(f"/api/v1/tokens/{token_id}/").status_code == 204
    assert api.get("/api/v1/tokens/").status_code == 401


def test_an_expired_token_is_refused(bob: User) -> None:
    token, plaintext = ApiToken.issue(bob, "old", expires_at=timezone.now() + timedelta(seconds=60))
    assert bearer(plaintext).get("/api/v1/tokens/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(plaintext).get("/api/v1/tokens/").status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(bob: User) -> None:
    _, plaintext = ApiToken.issue(bob, "t")
    bob.is_active = False
    bob.save()
    assert bearer(plaintext).get("/api/v1/tokens/").status_code == 401


def test_users_see_and_revoke_only_their_own_tokens(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    alices, _ = ApiToken.issue(alice, "alices")
    api = client_for(bob)
    names = {item["name"] for item in api.get("/api/v1/tokens/").json()["results"]}
    assert "alices" not in names
    assert api.delete(f"/api/v1/tokens/{alices.pk}/").status_code == 404
    assert ApiToken.objects.filter(pk=alices.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3}, "expires_in_days"),
    ],
)
def test_bad_token_requests_name_the_field(
    bob: User, client_for: Callable[[User | None], APIClient], body: dict[str, object], field: str
) -> None:
    response = client_for(bob).post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_duplicate_token_names_are_refused(bob: User, client_for: Callable[[User | None], APIClient]) -> None:
    api = client_for(bob)
    assert api.post("/api/v1/tokens/", {"name": "dup"}, format="json").status_code == 201
    again = api.post("/api/v1/tokens/", {"name": "dup"}, format="json")
    assert again.status_code == 400 and "already have a token" in again.json()["fields"]["name"][0]


def test_createtoken_prints_a_working_token(bob: User, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("createtoken", "bob", "--name", "deploy", "--expires", "7")
    plaintext = capsys.readouterr().out.strip()
    assert bearer(plaintext).get("/api/v1/tokens/").status_code == 200
    assert ApiToken.objects.get(name="deploy").expires_at is not None


def test_tokens_carry_limits_and_a_limited_token_cannot_make_a_wider_one(
    bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    host = Host.objects.create(name="staging-1", url="unix:///x.sock")
    Grant.objects.create(user=bob, host=host, role=Role.OPERATOR)
    session = client_for(bob)
    made = session.post(
        "/api/v1/tokens/",
        {"name": "ci", "scope_hosts": ["staging-*"], "max_role": "viewer", "default_host": "staging-1",
         "expires_in_days": 5},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["scope_hosts"], body["max_role"], body["default_host"]) == (
        ["staging-*"],
        "viewer",
        "staging-1",
    )
    hidden = session.post("/api/v1/tokens/", {"name": "x", "default_host": "prod-9"}, format="json")
    assert hidden.status_code == 400 and "prod-9" in hidden.json()["fields"]["default_host"][0]

    limited = bearer(body["token"])
    inherited = limited.post("/api/v1/tokens/", {"name": "child"}, format="json")
    assert inherited.status_code == 201, inherited.json()
    child = ApiToken.objects.get(user=bob, name="child")
    parent = ApiToken.objects.get(user=bob, name="ci")
    assert (child.scope_hosts, child.max_role, child.expires_at) == (
        ["staging-*"],
        "viewer",
        parent.expires_at,
    )
    for wider, field in (
        ({"max_role": "operator"}, "max_role"),
        ({"scope_hosts": ["*"]}, "scope_hosts"),
        ({"expires_in_days": 30}, "expires_at"),
    ):
        refused = limited.post("/api/v1/tokens/", {"name": f"wider-{field}", **wider}, format="json")
        assert refused.status_code == 400 and field in refused.json()["fields"], refused.json()
    narrower = limited.post("/api/v1/tokens/", {"name": "narrow", "expires_in_days": 1}, format="json")
    assert narrower.status_code == 201, narrower.json()
    assert not ApiToken.objects.filter(name__startswith="wider-").exists()
