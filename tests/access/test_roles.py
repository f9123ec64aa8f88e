"""Roles from grants, token scope and ceilings, ownership, teams and grants through the API, `me`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts import access, visibility
from hosts.access import OWNER_TEAM_LABEL, OWNER_USER_LABEL, AccessDenied, Action, caller
from hosts.models import ApiToken, Grant, Host, Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def hosts() -> dict[str, Host]:
    return {
        name: Host.objects.create(name=name, url=f"unix:///{name}.sock", labels=labels)
        for name, labels in [
            ("prod-1", {"env": "prod"}),
            ("staging-1", {"env": "staging"}),
            ("lab", {"gpu": "a100"}),
        ]
    }


def test_the_strongest_grant_wins_across_user_team_and_label(bob: User, hosts: dict[str, Host]) -> None:
    team = Team.objects.create(name="red")
    team.members.add(bob)
    Grant.objects.create(user=bob, host=hosts["prod-1"], role=Role.VIEWER)
    Grant.objects.create(team=team, host_label="env=prod", role=Role.OPERATOR)
    Grant.objects.create(team=team, host_label="gpu", role=Role.ADMIN)
    who = caller(bob)
    assert access.role_for(who, hosts["prod-1"]) is Role.OPERATOR
    assert access.role_for(who, hosts["lab"]) is Role.ADMIN
    assert access.role_for(who, hosts["staging-1"]) is None
    assert set(visibility.visible_hosts(who).values_list("name", flat=True)) == {"prod-1", "lab"}


def test_visible_hosts_agrees_with_role_for(bob: User, hosts: dict[str, Host]) -> None:
    Grant.objects.create(user=bob, host_label="env", role=Role.VIEWER)
    who = caller(bob)
    visible = set(visibility.visible_hosts(who))
    assert visible == {host for host in hosts.values() if access.role_for(who, host) is not None}
    assert len(visible) == 2


def test_a_token_narrows_hosts_and_caps_the_role(alice: User, hosts: dict[str, Host]) -> None:
    token, _ = ApiToken.issue(alice, "ci")
    token.scope_hosts = ["staging-*"]
    token.max_role = Role.OPERATOR
    token.save()
    who = caller(alice, token)
    assert access.role_for(who, hosts["staging-1"]) is Role.OPERATOR
    assert access.role_for(who, hosts["prod-1"]) is None
    assert list(visibility.visible_hosts(who)) == [hosts["staging-1"]]
    assert not access.can_manage_inventory(who), "a scoped token never manages the inventory"
    with pytest.raises(AccessDenied, match="limited to that role"):
        access.require(who, hosts["staging-1"], Action.ADMIN)
    with pytest.raises(AccessDenied) as refused:
        access.require(who, hosts["prod-1"], Action.VIEW)
    assert refused.value.not_found


def test_inactive_users_have_no_role(alice: User, hosts: dict[str, Host]) -> None:
    alice.is_active = False
    assert access.role_for(caller(alice), hosts["lab"]) is None
    assert not visibility.visible_hosts(caller(alice)).exists()


def test_ownership_user_team_other_team_and_unowned(bob: User, hosts: dict[str, Host]) -> None:
    red, blue = Team.objects.create(name="red"), Team.objects.create(name="blue")
    red.members.add(bob)
    host = hosts["prod-1"]
    Grant.objects.create(team=red, host=host, role=Role.OPERATOR)
    who = caller(bob)
    assert access.owner_labels(who, host) == {OWNER_USER_LABEL: "bob", OWNER_TEAM_LABEL: "red"}
    assert access.owns(who, host, {OWNER_USER_LABEL: "bob"})
    assert access.owns(who, host, {OWNER_USER_LABEL: "carol", OWNER_TEAM_LABEL: "red"})
    assert not access.owns(who, host, {OWNER_USER_LABEL: "erin", OWNER_TEAM_LABEL: blue.name})
    assert not access.owns(who, host, {})
    with pytest.raises(AccessDenied, match="belongs to 'blue'"):
        access.may_act_on(who, host, {OWNER_TEAM_LABEL: "blue"})
    with pytest.raises(AccessDenied, match="has no owner"):
        access.may_act_on(who, host, None)
    host.unowned_access = True
    assert access.owns(who, host, {})
    access.may_act_on(who, host, None)


def test_a_viewer_may_not_act_even_on_own_objects(bob: User, hosts: dict[str, Host]) -> None:
    Grant.objects.create(user=bob, host=hosts["lab"], role=Role.VIEWER)
    with pytest.raises(AccessDenied, match="operate needs operator"):
        access.may_act_on(caller(bob), hosts["lab"], {OWNER_USER_LABEL: "bob"})


def test_me_lists_roles_per_host_and_the_token_scope(bob: User, hosts: dict[str, Host]) -> None:
    team = Team.objects.create(name="red")
    team.members.add(bob)
    Grant.objects.create(team=team, host_label="env", role=Role.OPERATOR)
    token, plaintext = ApiToken.issue(bob, "ci")
    ApiToken.objects.filter(pk=token.pk).update(scope_hosts=["prod-*"], max_role=Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "bob" and me["teams"] == ["red"] and me["is_superuser"] is False
    assert me["hosts"] == [{"id": hosts["prod-1"].pk, "name": "prod-1", "role": "viewer"}]
    assert me["token"]["scope_hosts"] == ["prod-*"] and me["token"]["max_role"] == "viewer"


def test_teams_and_grants_through_the_api(
    alice: User, bob: User, hosts: dict[str, Host], client_for: Callable[[User | None], APIClient]
) -> None:
    admin = client_for(alice)
    team = admin.post("/api/v1/teams/", {"name": "red", "members": ["bob"]}, format="json")
    assert team.status_code == 201, team.json()
    grant = admin.post(
        "/api/v1/grants/", {"team": "red", "host_label": "env=staging", "role": "operator"}, format="json"
    )
    assert grant.status_code == 201, grant.json()
    bobs = client_for(bob)
    assert [t["name"] for t in bobs.get("/api/v1/teams/").json()["results"]] == ["red"]
    assert [h["name"] for h in bobs.get("/api/v1/hosts/").json()["results"]] == ["staging-1"]
    assert admin.delete(f"/api/v1/grants/{grant.json()['id']}/").status_code == 204
    assert bobs.get("/api/v1/hosts/").json()["results"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "bob", "team": "red", "host": "lab", "role": "viewer"}, "user"),
        ({"host": "lab", "role": "viewer"}, "user"),
        ({"user": "bob", "role": "viewer"}, "host"),
        ({"user": "bob", "host": "lab", "host_label": "gpu", "role": "viewer"}, "host"),
        ({"user": "bob", "host_label": "env__contains=x", "role": "viewer"}, "host_label"),
        ({"user": "bob", "host": "lab", "role": "root"}, "role"),
        ({"user": "nobody", "host": "lab", "role": "viewer"}, "user"),
    ],
)
def test_bad_grants_name_the_field(
    alice: User,
    bob: User,
    hosts: dict[str, Host],
    client_for: Callable[[User | None], APIClient],
    body: dict[str, str],
    field: str,
) -> None:
    Team.objects.create(name="red")
    response = client_for(alice).post("/api/v1/grants/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Grant.objects.exists()
