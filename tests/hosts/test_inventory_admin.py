"""The inventory is separate from host administration: a host's admin changes its policy and unowned
access; its name, address, TLS material and labels, and adding or removing hosts, are for inventory
administrators (superusers with an unscoped token). Addresses of hosts and registries are checked by one
function (hosts.engine.client.validate_address) whichever way they come in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from hosts import services
from hosts.models import ApiToken, AuditEntry, Grant, Host, Role
from images.models import Registry

pytestmark = pytest.mark.django_db

# Never dialled: no call below connects (checks are off, or nothing about the connection changes).
SOCKET = "unix:///run/dockerweb-tests/nothing.sock"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


@pytest.fixture
def host(alice: User) -> Host:
    return Host.objects.create(name="shared", url=SOCKET, labels={"env": "staging"}, created_by=alice)


@pytest.fixture
def hana(host: Host) -> User:
    """The admin of `host` (a grant, not a superuser)."""
    user = User.objects.create_user("hana", "hana@example.com", "hana-password-1")
    Grant.objects.create(user=user, host=host, role=Role.ADMIN)
    return user


def _patch(api: APIClient, host: Host, body: dict[str, Any]) -> Any:
    return api.patch(f"/api/v1/hosts/{host.pk}/?check=false", body, format="json")


def test_a_host_admin_changes_the_policy_and_unowned_access(
    host: Host, hana: User, client_for: Callable[[User | None], APIClient]
) -> None:
    policy = {"allowed_registries": ["registry.example.com"]}
    response = _patch(client_for(hana), host, {"policy": policy, "unowned_access": True})
    assert response.status_code == 200, response.json()
    host.refresh_from_db()
    assert host.policy == policy and host.unowned_access is True


def test_the_dashboards_edit_form_sent_back_unchanged_is_not_an_inventory_change(
    host: Host, hana: User, client_for: Callable[[User | None], APIClient]
) -> None:
    # The form PATCHes name, url, tls_verify and labels with the policy, whether or not they changed.
    body = {"name": host.name, "url": f" {host.url} ", "tls_verify": True, "labels": {"env": "staging"}}
    response = _patch(client_for(hana), host, {**body, "policy": {}, "unowned_access": False})
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "tcp://docker.example.com:2376"}, "url"),
        ({"tls_ca": PEM}, "tls_ca"),
        ({"tls_verify": False}, "tls_verify"),
        ({"name": "renamed"}, "name"),
        ({"labels": {"env": "production"}}, "labels"),
        ({"url": "tcp://docker.example.com:2376", "policy": {}}, "url"),
    ],
)
def test_a_host_admin_may_not_change_the_inventory_of_their_host(
    host: Host,
    hana: User,
    client_for: Callable[[User | None], APIClient],
    change: dict[str, Any],
    field: str,
) -> None:
    response = _patch(client_for(hana), host, change)
    assert response.status_code == 403, response.json()
    body = response.json()
    assert body["code"] == "permission_denied" and field in body["detail"]
    assert "inventory administrators" in body["detail"]
    assert Host.objects.get(pk=host.pk).url == SOCKET and Host.objects.filter(name="shared").exists()
    denial = AuditEntry.objects.get(action="host.partial_update")
    assert denial.outcome == "denied" and denial.username == "hana" and denial.status_code == 403


def test_a_host_admin_may_not_add_import_or_remove_hosts(
    host: Host, hana: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(hana)
    added = api.post("/api/v1/hosts/?check=false", {"name": "mine", "url": SOCKET}, format="json")
    assert added.status_code == 403 and added.json()["code"] == "permission_denied"
    imported = api.post("/api/v1/hosts/import-contexts/", {}, format="multipart")
    assert imported.status_code == 403
    assert api.delete(f"/api/v1/hosts/{host.pk}/").status_code == 403
    assert list(Host.objects.values_list("name", flat=True)) == ["shared"]


def test_an_inventory_admin_changes_the_address(
    host: Host, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    response = _patch(client_for(alice), host, {"url": "tcp://docker.example.com:2376", "name": "moved"})
    assert response.status_code == 200, response.json()
    host.refresh_from_db()
    assert (host.url, host.name) == ("tcp://docker.example.com:2376", "moved")


def test_a_superuser_token_scoped_to_hosts_is_no_inventory_admin(host: Host, alice: User) -> None:
    _, token = ApiToken.issue(alice, "scoped", scope_hosts=["shared"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert _patch(api, host, {"policy": {"allowed_registries": ["registry.example.com"]}}).status_code == 200
    refused = _patch(api, host, {"url": "tcp://docker.example.com:2376"})
    assert refused.status_code == 403 and "url" in refused.json()["detail"]


BAD_ENGINE_URLS = [
    ("tcp://admin:secret@docker.example.com:2376", "user name"),
    ("tcp://docker.example.com:2376#frag", "fragment"),
    ("tcp://docker.example.com:0", "port"),
    ("tcp://-docker.example.com:2376", "host name"),
    ("tcp://docker example.com:2376", "spaces"),
    ("unix:///var/run/docker.sock?x=1", "query"),
    ("ftp://docker.example.com", "Unsupported scheme"),
]


@pytest.mark.parametrize(("url", "message"), BAD_ENGINE_URLS)
def test_a_bad_engine_address_is_refused_through_the_api_and_the_services(
    alice: User, client_for: Callable[[User | None], APIClient], url: str, message: str
) -> None:
    response = client_for(alice).post("/api/v1/hosts/?check=false", {"name": "h", "url": url}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid" and message in response.json()["fields"]["url"][0]
    # addhost, context imports and the API all end in the services, which check the model.
    with pytest.raises(ValidationError) as refused:
        services.register_host(name="h", url=url, check=False)
    assert message in refused.value.message_dict["url"][0]
    assert not Host.objects.exists()


def test_a_host_admin_learns_nothing_new_by_the_address_check(
    host: Host, hana: User, client_for: Callable[[User | None], APIClient]
) -> None:
    # A malformed address is refused for what it is; a good one for who is asking.
    bad = _patch(client_for(hana), host, {"url": "tcp://a@b:1"})
    assert bad.status_code == 400 and "user name" in bad.json()["fields"]["url"][0]
    good = _patch(client_for(hana), host, {"url": "tcp://b:1"})
    assert good.status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "https://user:pw@registry.example.com"}, "url", "user name"),
        ({"url": "https://registry.example.com#x"}, "url", "fragment"),
        ({"url": "https://registry.example.com:99999"}, "url", "port"),
        ({"url": "https://registry.example.com/v2/"}, "url", "path"),
        ({"url": "https://registry.example.com", "server": "registry..example.com"}, "server", "host name"),
        ({"url": "https://registry.example.com", "server": "registry.example.com:0"}, "server", "port"),
    ],
)
def test_a_bad_registry_address_is_refused_by_the_same_check(
    alice: User,
    client_for: Callable[[User | None], APIClient],
    body: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = client_for(alice).post("/api/v1/registries/", {"name": "reg", **body}, format="json")
    assert response.status_code == 400, response.json()
    assert message in response.json()["fields"][field][0]
    assert not Registry.objects.exists()


def test_a_good_registry_address_is_stored_as_images_name_it(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    body = {"name": "reg", "url": "https://Registry.Example.com:5000/", "server": "Registry.Example.com:5000"}
    response = client_for(alice).post("/api/v1/registries/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["address"] == "registry.example.com:5000"


def test_a_host_admin_manages_the_grants_of_their_host_only(
    host: Host, hana: User, alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    other = Host.objects.create(name="other", url=SOCKET, created_by=alice)
    elsewhere = Grant.objects.create(user=bob, host=other, role=Role.VIEWER)
    api = client_for(hana)

    made = api.post("/api/v1/grants/", {"user": "bob", "host": "shared", "role": "operator"}, format="json")
    assert made.status_code == 201, made.content
    grant_id = made.json()["id"]
    listed = api.get("/api/v1/grants/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {row["host"] for row in rows} == {"shared"}
    assert api.patch(f"/api/v1/grants/{grant_id}/", {"role": "viewer"}, format="json").status_code == 200

    # Not another host's grants, not moving one there, not label grants (they span hosts).
    refused = [
        api.post("/api/v1/grants/", {"user": "bob", "host": "other", "role": "admin"}, format="json"),
        api.patch(f"/api/v1/grants/{grant_id}/", {"host": "other"}, format="json"),
        api.post(
            "/api/v1/grants/", {"user": "bob", "host_label": "env=staging", "role": "admin"}, format="json"
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403], [r.content for r in refused]
    assert api.delete(f"/api/v1/grants/{elsewhere.pk}/").status_code == 404  # not even visible
    assert Grant.objects.filter(user=bob, host=other).count() == 1
    assert not Grant.objects.filter(host_label="env=staging").exists()
    assert Grant.objects.get(pk=grant_id).host == host
