"""The users REST API: administrators create, change and deactivate users; everyone else sees themselves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import ApiToken, AuditEntry, Team

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-9"


def test_admin_creates_a_user_with_a_validated_password_never_shown_or_logged(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    admin = client_for(alice)
    weak = admin.post("/api/v1/users/", {"username": "carol", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["fields"], weak.json()
    similar = admin.post(
        "/api/v1/users/", {"username": "carolyn-smithers", "password": "carolyn-smithers"}, format="json"
    )
    assert similar.status_code == 400 and "too similar" in similar.json()["fields"]["password"][0], (
        similar.json()
    )
    missing = admin.post("/api/v1/users/", {"username": "carol"}, format="json")
    assert missing.status_code == 400 and missing.json()["fields"]["password"] == [
        "A new user needs a password."
    ]
    assert not User.objects.filter(username="carol").exists()

    created = admin.post(
        "/api/v1/users/", {"username": "carol", "email": "c@example.com", "password": STRONG}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "password" not in body and body["is_active"] is True and body["is_superuser"] is False
    carol = User.objects.get(username="carol")
    assert carol.check_password(STRONG) and not carol.is_staff
    Team.objects.create(name="red").members.add(carol)
    assert admin.get(f"/api/v1/users/{carol.pk}/").json()["teams"] == ["red"]

    promoted = admin.patch(
        f"/api/v1/users/{carol.pk}/", {"is_superuser": True, "password": STRONG + "!"}, format="json"
    )
    assert promoted.status_code == 200 and promoted.json()["is_superuser"] is True
    carol.refresh_from_db()
    assert carol.is_superuser and carol.is_staff and carol.check_password(STRONG + "!")

    rows = AuditEntry.objects.filter(action__in=["user.create", "user.partial_update"]).order_by("pk")
    assert [row.action for row in rows][-2:] == ["user.create", "user.partial_update"]
    for row in rows:
        assert STRONG not in str(row.request_body) + row.detail + row.path


def test_deactivating_a_user_stops_their_tokens_and_nobody_locks_themselves_out(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    admin = client_for(alice)
    _, secret = ApiToken.issue(bob, name="laptop")
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert with_token.get("/api/v1/me/").status_code == 200
    assert admin.patch(f"/api/v1/users/{bob.pk}/", {"is_active": False}, format="json").status_code == 200
    assert with_token.get("/api/v1/me/").status_code == 401

    myself = admin.patch(f"/api/v1/users/{alice.pk}/", {"is_active": False}, format="json")
    assert myself.status_code == 400 and "yourself" in myself.json()["detail"]
    demoted = admin.patch(f"/api/v1/users/{alice.pk}/", {"is_superuser": False}, format="json")
    assert demoted.status_code == 400 and "own administrator right" in demoted.json()["detail"]
    alice.refresh_from_db()
    assert alice.is_active and alice.is_superuser
    assert admin.delete(f"/api/v1/users/{bob.pk}/").status_code == 405  # deactivate, never delete


def test_everyone_else_sees_only_themselves_and_changes_nothing(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    member = client_for(bob)
    listed = member.get("/api/v1/users/").json()
    assert [user["username"] for user in listed["results"]] == ["bob"]
    assert member.get(f"/api/v1/users/{alice.pk}/").status_code == 404  # others are not even listed
    refused = member.post("/api/v1/users/", {"username": "mallory", "password": STRONG}, format="json")
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]
    assert member.patch(f"/api/v1/users/{bob.pk}/", {"is_superuser": True}, format="json").status_code == 403
    bob.refresh_from_db()
    assert not bob.is_superuser and not User.objects.filter(username="mallory").exists()
    admin_view = client_for(alice).get("/api/v1/users/?search=bo").json()
    assert [user["username"] for user in admin_view["results"]] == ["bob"]


def test_me_says_whether_the_caller_may_manage_the_inventory(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    assert client_for(alice).get("/api/v1/me/").json()["can_manage_inventory"] is True
    assert client_for(bob).get("/api/v1/me/").json()["can_manage_inventory"] is False
    _, capped = ApiToken.issue(alice, name="capped", max_role="operator")
    with_token = APIClient()
    with_token.credentials(HTTP_AUTHORIZATION=f"Bearer {capped}")
    assert with_token.get("/api/v1/me/").json()["can_manage_inventory"] is False
