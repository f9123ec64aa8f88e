"""Importing docker contexts through the REST API: files written by the real `docker context export`."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from hosts import contexts
from hosts.engine.tls import TLSMaterial
from hosts.models import AuditEntry, Grant, Host, Role
from tests.gateway.clis import DockerCli, find_docker_clis
from tests.hosts.context_exports import export_bytes, export_with_cli, tar_bytes
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db

CLIS = find_docker_clis()


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.mark.parametrize("cli", CLIS, ids=[cli.label for cli in CLIS])
def test_admin_imports_context_exports_of_the_docker_cli_and_each_file_is_reported(
    cli: DockerCli,
    testbed: Testbed,
    alice: User,
    client_for: Callable[[User | None], APIClient],
    tmp_path: Path,
) -> None:
    ca, cert, key = testbed.engine2.client_tls.write_files(str(tmp_path))
    secure = export_with_cli(
        cli.path,
        tmp_path,
        "secure",
        testbed.engine2.tls_url,
        {"ca": ca, "cert": cert, "key": key},
    )
    local = export_with_cli(cli.path, tmp_path, "local", testbed.engine1.unix_url, {})
    Host.objects.create(name="taken", url="unix:///x.sock")
    files = [
        _upload("secure.dockercontext", secure),
        _upload("local.dockercontext", local),
        _upload("taken.dockercontext", export_bytes("taken", testbed.engine1.unix_url)),
        _upload("ssh.dockercontext", export_bytes("far", "ssh://me@example.invalid")),
        _upload("notes.txt", b"not a tar at all"),
    ]
    response = client_for(alice).post(
        "/api/v1/hosts/import-contexts/", {"contexts": files}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    results = {row["file"]: row for row in response.json()["results"]}
    assert [row["file"] for row in response.json()["results"]] == [upload.name for upload in files]
    assert results["secure.dockercontext"]["outcome"] == "added"
    assert results["secure.dockercontext"]["host"]["status"] == "up"
    assert results["secure.dockercontext"]["host"]["engine_version"].startswith("20.10")
    assert results["local.dockercontext"]["outcome"] == "added"
    assert results["taken.dockercontext"]["outcome"] == "skipped"
    assert "exists" in results["taken.dockercontext"]["message"]
    assert results["ssh.dockercontext"]["outcome"] == "failed"
    assert "Unsupported scheme 'ssh'" in results["ssh.dockercontext"]["message"]
    assert results["notes.txt"] == {
        "name": "",
        "file": "notes.txt",
        "outcome": "failed",
        "message": "Not a docker context export (docker context export NAME FILE writes one).",
        "host": None,
    }
    stored = Host.objects.get(name="secure")
    assert stored.tls_key == Path(key).read_text() and stored.created_by == alice
    assert Host.objects.get(name="taken").url == "unix:///x.sock"  # left alone
    assert not Host.objects.filter(name="far").exists()
    # Audited once, without the key material.
    entry = AuditEntry.objects.get(action="host.import_contexts")
    assert entry.status_code == 200 and entry.username == "alice"
    assert "PRIVATE KEY" not in str(entry.request_body) + entry.detail
    assert (entry.request_body or {})["contexts"][0] == {"file": "secure.dockercontext", "size": len(secure)}


def test_only_inventory_administrators_import_and_bad_uploads_are_named(
    testbed: Testbed, alice: User, bob: User, client_for: Callable[[User | None], APIClient]
) -> None:
    host = Host.objects.create(name="existing", url=testbed.engine1.unix_url)
    Grant.objects.create(user=bob, host=host, role=Role.ADMIN)  # admin of a host, not of the inventory
    upload = _upload("x.dockercontext", export_bytes("x", testbed.engine1.unix_url))
    refused = client_for(bob).post(
        "/api/v1/hosts/import-contexts/", {"contexts": [upload]}, format="multipart"
    )
    assert refused.status_code == 403 and not Host.objects.filter(name="x").exists()
    empty = client_for(alice).post("/api/v1/hosts/import-contexts/", {}, format="multipart")
    assert empty.status_code == 400 and "contexts" in empty.json()["fields"], empty.json()
    huge = _upload("huge.dockercontext", b"\0" * (contexts.MAX_EXPORT_BYTES + 1))
    too_big = client_for(alice).post(
        "/api/v1/hosts/import-contexts/", {"contexts": [huge]}, format="multipart"
    )
    assert too_big.status_code == 400 and "at most" in str(too_big.json()), too_big.json()
    bad_check = client_for(alice).post(
        "/api/v1/hosts/import-contexts/?check=maybe", {"contexts": [upload]}, format="multipart"
    )
    assert bad_check.status_code == 400 and not Host.objects.filter(name="x").exists()


def test_an_export_is_read_with_or_without_the_closing_blocks() -> None:
    tls = TLSMaterial(ca="CA PEM", cert="CERT PEM", key="KEY PEM", verify=False)
    raw = export_bytes("remote", "tcp://10.0.0.9:2376", tls, description="the build box")
    for content in (raw, raw + b"\0" * 1024):
        context = contexts.from_export(io.BytesIO(content))
        assert context == contexts.DockerContext("remote", "tcp://10.0.0.9:2376", "the build box", tls)
    with pytest.raises(contexts.ContextError, match=r"has no meta\.json"):
        contexts.from_export(io.BytesIO(tar_bytes({"tls/docker/ca.pem": b"CA PEM"})))
    with pytest.raises(contexts.ContextError, match="Not a docker context export"):
        contexts.from_export(io.BytesIO(export_bytes("x", "unix:///x")[512:]))
    with pytest.raises(contexts.ContextError, match="no docker endpoint"):
        contexts.parse_meta(b'{"Name": "x", "Endpoints": {}}', {})
