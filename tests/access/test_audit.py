"""The audit log: rows for success, failure and denial, secrets removed, append-only, filtered, exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from hosts import audit
from hosts.access import caller
from hosts.models import AuditEntry, EntryPoint, Host, Outcome
from tests.conftest import tls_material
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


def test_a_successful_change_is_audited_with_the_tls_key_removed(
    testbed: Testbed, alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    tls = tls_material(testbed.engine1)
    body = {
        "name": "remote",
        "url": testbed.engine1.tls_url,
        "tls_ca": tls.ca,
        "tls_cert": tls.cert,
        "tls_key": tls.key,
    }
    assert client_for(alice).post("/api/v1/hosts/", body, format="json").status_code == 201
    entry = AuditEntry.objects.get(action="host.create")
    assert entry.outcome == "success" and entry.status_code == 201
    assert entry.username == "alice" and entry.token_name.startswith("test-")
    assert entry.entry_point == "rest" and entry.source_ip == "127.0.0.1"
    assert entry.object_name == "remote" and entry.duration_ms is not None and entry.duration_ms > 0
    assert entry.request_body is not None and entry.request_body["tls_key"] == audit.REDACTED
    assert "PRIVATE KEY" not in json.dumps(entry.request_body)


def test_failures_and_denials_are_audited(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    client_for(alice).post("/api/v1/hosts/", {"name": "x", "url": "ftp://nope"}, format="json")
    client_for(bob).post("/api/v1/hosts/", {"name": "y", "url": "unix:///y.sock"}, format="json")
    failure = AuditEntry.objects.get(username="alice", action="host.create")
    assert (
        failure.outcome == "failure" and failure.status_code == 400 and "Unsupported scheme" in failure.detail
    )
    denial = AuditEntry.objects.get(username="bob", action="host.create")
    assert denial.outcome == "denied" and denial.status_code == 403 and "Only administrators" in denial.detail
    assert not Host.objects.exists()


def test_reads_are_not_audited(alice: User, client_for: Callable[[User | None], APIClient]) -> None:
    client_for(alice).get("/api/v1/hosts/")
    assert not AuditEntry.objects.exists()


def test_the_log_is_append_only(alice: User, client_for: Callable[[User | None], APIClient]) -> None:
    entry = audit.record(who=None, entry_point=EntryPoint.REST, action="x", outcome=Outcome.SUCCESS)
    entry.detail = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(detail="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    api = client_for(alice)
    assert api.delete(f"/api/v1/audit/{entry.pk}/").status_code == 405
    assert api.patch(f"/api/v1/audit/{entry.pk}/", {"detail": "x"}, format="json").status_code == 405


def test_admins_see_everything_others_only_their_own_with_filters_and_export(
    alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    bobs, admin = client_for(bob), client_for(alice)
    bobs.post("/api/v1/tokens/", {"name": "one"}, format="json")
    admin.post("/api/v1/tokens/", {"name": "two"}, format="json")
    admin.post("/api/v1/hosts/", {"name": "x", "url": "ftp://nope"}, format="json")

    assert {e["username"] for e in bobs.get("/api/v1/audit/").json()["results"]} == {"bob"}
    everything = admin.get("/api/v1/audit/").json()["results"]
    assert {e["username"] for e in everything} == {"alice", "bob"}
    failures = admin.get("/api/v1/audit/?outcome=failure&user=alice").json()["results"]
    assert [e["action"] for e in failures] == ["host.create"]
    assert admin.get("/api/v1/audit/?action=token.").json()["count"] == 2
    assert admin.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["count"] == 0

    export = admin.get("/api/v1/audit/export/?action=token.")
    assert export["Content-Type"] == "application/x-ndjson"
    content = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in content.decode().splitlines()]
    assert [line["username"] for line in lines] == ["bob", "alice"], "oldest first"
    # The token itself is a secret: never in an audit row, although the response carried it.
    assert all("dw_" not in json.dumps(line) for line in lines)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Env": ["DB_PASSWORD=hunter2", "MODE=prod"]}, {"Env": ["DB_PASSWORD=[redacted]", "MODE=prod"]}),
        ({"env": {"API_TOKEN": "abc", "PORT": "80"}}, {"env": {"API_TOKEN": "[redacted]", "PORT": "80"}}),
        ({"password": "x", "username": "u"}, {"password": "[redacted]", "username": "u"}),
        ({"X-Registry-Auth": "e30="}, {"X-Registry-Auth": "[redacted]"}),
        ({"tls_key": "-----BEGIN", "tls_cert": "c"}, {"tls_key": "[redacted]", "tls_cert": "c"}),
        ({"Config": {"Env": ["SECRET_KEY=s"]}}, {"Config": {"Env": ["SECRET_KEY=[redacted]"]}}),
        ({"Labels": {"keyboard": "yes"}}, {"Labels": {"keyboard": "yes"}}),
    ],
)
def test_redaction(body: dict[str, object], expected: dict[str, object]) -> None:
    assert audit.redact(body) == expected


def test_rows_carry_when_their_request_started_and_are_ordered_by_it(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    # `docker run`: the attach row is written as its stream starts, the create row once its response went
    # out, which may be later. Written out of order, the log still reads in the order things were asked.
    begun = timezone.now()
    attach = audit.record(
        who=None, entry_point=EntryPoint.GATEWAY, action="container.attach", outcome=Outcome.SUCCESS,
        started_at=begun - timedelta(seconds=2),
    )  # fmt: skip
    start = audit.record(
        who=None, entry_point=EntryPoint.GATEWAY, action="container.start", outcome=Outcome.SUCCESS,
        started_at=begun - timedelta(seconds=1),
    )  # fmt: skip
    create = audit.record(
        who=None, entry_point=EntryPoint.GATEWAY, action="container.create", outcome=Outcome.SUCCESS,
        started_at=begun - timedelta(seconds=3),
    )  # fmt: skip
    assert create.created_at > attach.created_at, "written last, started first"
    newest_first = ["container.start", "container.attach", "container.create"]
    assert [entry.action for entry in AuditEntry.objects.all()] == newest_first
    listed = client_for(alice).get("/api/v1/audit/?action=container.").json()["results"]
    assert [entry["action"] for entry in listed] == newest_first
    assert start.started_at <= start.created_at


def test_a_rest_row_starts_when_its_request_started(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    before = timezone.now()
    client_for(alice).post("/api/v1/tokens/", {"name": "timed"}, format="json")
    entry = AuditEntry.objects.get(action="token.create")
    assert before <= entry.started_at <= entry.created_at
    assert entry.duration_ms is not None
    assert entry.created_at - entry.started_at >= timedelta(milliseconds=entry.duration_ms)


def test_a_row_without_a_start_starts_its_duration_before_it_was_written() -> None:
    entry = audit.record(
        who=None, entry_point=EntryPoint.WEBSOCKET, action="container.exec", outcome=Outcome.SUCCESS,
        duration_ms=90_000.0,
    )  # fmt: skip
    assert entry.created_at - entry.started_at == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/containers/x/exec", "/containers/x/exec"),
        ("/build?t=app&buildargs=%7B%22TOKEN%22%3A%22s%22%7D", "/build?t=app&buildargs=%5Bredacted%5D"),
        ("/tokens/?access_token=abc&limit=5", "/tokens/?access_token=%5Bredacted%5D&limit=5"),
        ("/commit?changes=ENV+DB_PASSWORD%3Dhunter2", "/commit?changes=ENV+DB_PASSWORD%3D%5Bredacted%5D"),
        ("/commit?changes=ENV+MODE%3Dprod", "/commit?changes=ENV+MODE%3Dprod"),
    ],
)
def test_paths_are_redacted_by_one_function_for_every_entry_point(path: str, expected: str) -> None:
    assert audit.audited_path(path) == expected
    assert audit.audited_path(expected) == expected, "redacting twice changes nothing"
    for entry_point in (EntryPoint.REST, EntryPoint.WEBSOCKET, EntryPoint.GATEWAY):
        entry = audit.record(
            who=None, entry_point=entry_point, action="x", outcome=Outcome.SUCCESS, path=path
        )
        assert entry.path == expected


def test_a_rest_row_keeps_no_secret_from_the_query_string(
    alice: User, client_for: Callable[[User | None], APIClient]
) -> None:
    client_for(alice).post("/api/v1/tokens/?api_key=s3cr3t", {"name": "q"}, format="json")
    entry = AuditEntry.objects.get(action="token.create")
    assert "s3cr3t" not in entry.path and entry.path == "/api/v1/tokens/?api_key=%5Bredacted%5D"


def test_a_body_with_nul_and_lone_surrogates_is_recorded_not_refused_by_the_database(alice: User) -> None:
    # PostgreSQL's jsonb and text refuse U+0000 and lone surrogates; a hostile request carries both.
    entry = audit.record(
        who=caller(alice),
        entry_point=EntryPoint.REST,
        action="container.bulk",
        outcome=Outcome.DENIED,
        path="/api/v1/containers/bulk/?q=\x00",
        body={"id\x00": "x\udaa4\x00", "ok": ["\ud833\udf3f"]},
        detail="no such container: x\x00",
    )
    entry.refresh_from_db()
    assert entry.request_body == {"id\ufffd": "x\ufffd\ufffd", "ok": ["\U0001cf3f"]}
    assert "\x00" not in entry.path + entry.detail
