"""The hosts REST API against the real engines: unix socket, TCP+TLS, validation, snapshots, access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import Host
from tests.conftest import tls_material
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


def tls_body(testbed: Testbed, name: str = "remote", **overrides: Any) -> dict[str, object]:
    tls = tls_material(testbed.engine2)
    body: dict[str, object] = {
        "name": name,
        "url": testbed.engine2.tls_url,
        "tls_ca": tls.ca,
        "tls_cert": tls.cert,
        "tls_key": tls.key,
    }
    body.update(overrides)
    return body


def test_admin_adds_a_unix_socket_host_and_sees_its_engine_version(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    response = client_for(alice).post(
        "/api/v1/hosts/", {"name": "local", "url": testbed.engine1.unix_url}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "up"
    assert body["engine_version"].startswith("20.10")
    assert body["api_version"] == "1.41"
    assert body["ncpu"] >= 1 and body["mem_total"] > 0
    assert body["images"] >= 1
    assert body["created_by"] == "alice"


def test_admin_adds_a_tls_host_and_both_hosts_are_listed_with_versions(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    assert (
        api.post(
            "/api/v1/hosts/", {"name": "one", "url": testbed.engine1.unix_url}, format="json"
        ).status_code
        == 201
    )
    created = api.post("/api/v1/hosts/", tls_body(testbed, "two"), format="json")
    assert created.status_code == 201, created.json()

    listing = api.get("/api/v1/hosts/").json()
    hosts = {item["name"]: item for item in listing["results"]}
    assert set(hosts) == {"one", "two"}
    assert all(item["status"] == "up" and item["engine_version"] for item in hosts.values())
    # Two hosts really are two engines.
    assert hosts["one"]["engine_id"] != hosts["two"]["engine_id"]
    assert hosts["two"]["has_tls_ca"] and hosts["two"]["has_tls_client_cert"]


def test_no_response_ever_contains_tls_material(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    body = tls_body(testbed)
    created = api.post("/api/v1/hosts/", body, format="json")
    host_id = created.json()["id"]
    responses = [
        created,
        api.get("/api/v1/hosts/"),
        api.get(f"/api/v1/hosts/{host_id}/"),
        api.patch(f"/api/v1/hosts/{host_id}/", {"labels": {"env": "test"}}, format="json"),
        api.post(f"/api/v1/hosts/{host_id}/refresh/"),
        api.get(f"/api/v1/hosts/{host_id}/info/"),
        api.get("/api/v1/schema/"),
    ]
    key_body = str(body["tls_key"]).split("\n")[1]
    cert_body = str(body["tls_cert"]).split("\n")[1]
    for response in responses:
        assert response.status_code == 200 or response.status_code == 201
        text = response.content.decode()
        assert "PRIVATE KEY" not in text
        assert key_body not in text and cert_body not in text


def test_tls_material_is_encrypted_in_the_database(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    from django.db import connection

    client_for(alice).post("/api/v1/hosts/", tls_body(testbed), format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tls_ca, tls_cert, tls_key FROM hosts_host WHERE name = %s", ["remote"])
        stored = cursor.fetchone()
    assert all(value and "-----BEGIN" not in value for value in stored)
    assert Host.objects.get(name="remote").tls_key.startswith("-----BEGIN")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"url": "http://127.0.0.1:2375"}, "url", "Unsupported scheme 'http'"),
        ({"url": "ssh://user@host"}, "url", "Unsupported scheme 'ssh'"),
        ({"url": "tcp://127.0.0.1"}, "url", "needs a host and a port"),
        (
            {"url": "unix://relative.sock", "tls_ca": "", "tls_cert": "", "tls_key": ""},
            "url",
            "absolute socket path",
        ),
        (
            {"tls_cert": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"},
            "tls_cert",
            "cannot be parsed",
        ),
        ({"tls_ca": "hello"}, "tls_ca", "Not a PEM certificate"),
        (
            {"tls_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
            "tls_key",
            "cannot be parsed",
        ),
        ({"tls_key": ""}, "tls_key", "must be given together"),
        ({"name": "bad name!"}, "name", "letters, digits"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(
    testbed: Testbed,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = client_for(alice).post("/api/v1/hosts/", tls_body(testbed, **overrides), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert message in " ".join(body["fields"][field])
    assert not Host.objects.exists()


def test_a_key_that_does_not_match_the_certificate_is_refused(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    response = client_for(alice).post("/api/v1/hosts/", tls_body(testbed, tls_key=other_key), format="json")
    assert response.status_code == 400
    assert "does not match" in response.json()["fields"]["tls_key"][0]


def test_a_wrong_ca_is_a_clear_tls_verification_error(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    response = client_for(alice).post(
        "/api/v1/hosts/", tls_body(testbed, tls_ca=testbed.wrong_ca_pem), format="json"
    )
    assert response.status_code == 400
    message = response.json()["fields"]["url"][0]
    assert "TLS verification of the engine's certificate failed" in message
    assert "certificate verify failed" in message or "unable to get local issuer" in message


def test_a_client_without_certificate_is_refused_by_the_engine(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    response = client_for(alice).post(
        "/api/v1/hosts/", tls_body(testbed, tls_cert="", tls_key=""), format="json"
    )
    assert response.status_code == 400
    assert "Cannot reach the engine" in response.json()["fields"]["url"][0]


def test_an_unreachable_engine_is_refused_unless_check_is_false(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    body = {"name": "ghost", "url": "unix:///nonexistent/docker.sock"}
    refused = api.post("/api/v1/hosts/", body, format="json")
    assert refused.status_code == 400
    assert "socket does not exist" in refused.json()["fields"]["url"][0]
    stored = api.post("/api/v1/hosts/?check=false", body, format="json")
    assert stored.status_code == 201
    assert stored.json()["status"] == "unknown"
    refreshed = api.post(f"/api/v1/hosts/{stored.json()['id']}/refresh/")
    assert refreshed.json()["status"] == "down"
    assert "socket does not exist" in refreshed.json()["status_error"]


def test_a_stopped_engine_shows_down_with_the_reason_then_up_again(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    host_id = api.post("/api/v1/hosts/", tls_body(testbed), format="json").json()["id"]
    testbed.engine2.stop()
    try:
        down = api.post(f"/api/v1/hosts/{host_id}/refresh/").json()
        assert down["status"] == "down"
        assert "refused" in down["status_error"] or "closed the connection" in down["status_error"]
        assert down["engine_version"], "the last known engine facts stay"
        ping = api.get(f"/api/v1/hosts/{host_id}/ping/")
        assert ping.status_code == 503
        assert ping.json()["code"] == "host_unreachable" and ping.json()["host"] == "remote"
    finally:
        testbed.engine2.start()
    assert api.post(f"/api/v1/hosts/{host_id}/refresh/").json()["status"] == "up"


def test_info_and_ping_answer_live(
    testbed: Testbed, unix_host: Host, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    info = api.get(f"/api/v1/hosts/{unix_host.pk}/info/").json()
    assert info["info"]["Driver"] == "vfs"
    assert info["version"]["ApiVersion"] == "1.41"
    ping = api.get(f"/api/v1/hosts/{unix_host.pk}/ping/").json()
    assert ping["ok"] is True and ping["latency_ms"] >= 0


def test_update_revalidates_the_connection_and_delete_leaves_the_engine_alone(
    testbed: Testbed, tls_host: Host, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    bad = api.patch(f"/api/v1/hosts/{tls_host.pk}/", {"tls_ca": testbed.wrong_ca_pem}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()["fields"]
    tls_host.refresh_from_db()
    assert tls_host.tls_ca == testbed.engine2.client_tls.ca_pem, "a refused update changes nothing"

    import docker

    before = docker.DockerClient(base_url=testbed.engine2.unix_url).info()["Images"]
    assert api.delete(f"/api/v1/hosts/{tls_host.pk}/").status_code == 204
    assert not Host.objects.filter(pk=tls_host.pk).exists()
    assert docker.DockerClient(base_url=testbed.engine2.unix_url).info()["Images"] == before


def test_filters_by_name_label_and_status(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    Host.objects.create(name="staging-1", url="unix:///a.sock", labels={"env": "staging"}, status="up")
    Host.objects.create(
        name="prod-1", url="unix:///b.sock", labels={"env": "prod", "gpu": "yes"}, status="down"
    )
    api = client_for(alice)

    def names(query: str) -> set[str]:
        response = api.get(f"/api/v1/hosts/?{query}")
        assert response.status_code == 200, response.json()
        return {item["name"] for item in response.json()["results"]}

    assert names("name=staging") == {"staging-1"}
    assert names("label=env=prod") == {"prod-1"}
    assert names("label=gpu") == {"prod-1"}
    assert names("label=env") == {"staging-1", "prod-1"}
    assert names("status=up") == {"staging-1"}
    assert api.get("/api/v1/hosts/?status=sideways").status_code == 400
    assert api.get("/api/v1/hosts/?label=env__contains=x").status_code == 400


def test_a_user_without_grants_sees_no_host_and_cannot_add_one(
    testbed: Testbed, unix_host: Host, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(bob)
    assert api.get("/api/v1/hosts/").json()["results"] == []
    assert api.get(f"/api/v1/hosts/{unix_host.pk}/").status_code == 404
    assert api.get(f"/api/v1/hosts/{unix_host.pk}/info/").status_code == 404
    refused = api.post("/api/v1/hosts/", {"name": "x", "url": "tcp://nope"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only administrators may change the host inventory.",
        "code": "permission_denied",
    }
    assert api.delete(f"/api/v1/hosts/{unix_host.pk}/").status_code == 404
    assert Host.objects.filter(pk=unix_host.pk).exists()


def test_anonymous_and_bad_tokens_get_401(unix_host: Host) -> None:
    anonymous = APIClient()
    response = anonymous.get("/api/v1/hosts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer dw_0000_nope")
    assert bad.get("/api/v1/hosts/").json() == {
        "detail": "Invalid, expired or revoked token.",
        "code": "authentication_failed",
    }


def test_keys_never_reach_a_log_line_or_the_admin(
    testbed: Testbed,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from django.test import Client

    caplog.set_level(logging.DEBUG)
    body = tls_body(testbed)
    api = client_for(alice)
    host_id = api.post("/api/v1/hosts/", body, format="json").json()["id"]
    api.post(f"/api/v1/hosts/{host_id}/refresh/")
    api.post("/api/v1/hosts/", tls_body(testbed, "broken", tls_ca=testbed.wrong_ca_pem), format="json")
    key_line = str(body["tls_key"]).split("\n")[1]
    assert caplog.records, "the calls above log (requests, audit)"
    assert all(
        key_line not in record.getMessage() and "PRIVATE KEY" not in record.getMessage()
        for record in caplog.records
    )

    browser = Client()
    browser.force_login(alice)
    for page in (f"/admin/hosts/host/{host_id}/change/", "/admin/hosts/host/", "/admin/hosts/auditentry/"):
        response = browser.get(page)
        assert response.status_code == 200, page
        assert key_line not in response.content.decode() and "PRIVATE KEY" not in response.content.decode()


def test_a_host_is_created_with_its_policy_settings_and_bad_settings_are_named(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    api = client_for(alice)
    body = {
        "name": "shared",
        "url": testbed.engine1.unix_url,
        "unowned_access": True,
        "policy": {"max_memory": 1 << 30},
    }
    created = api.post("/api/v1/hosts/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["policy"] == {"max_memory": 1 << 30} and created.json()["unowned_access"] is True
    bad = api.post("/api/v1/hosts/", {**body, "name": "bad", "policy": {"max_memory": "lots"}}, format="json")
    assert bad.status_code == 400 and "policy" in bad.json()["fields"]
    unknown = api.patch(f"/api/v1/hosts/{created.json()['id']}/", {"policy": {"nope": 1}}, format="json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["fields"]["policy"][0]
