"""addhost and importcontexts against the real engines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hosts.models import Host
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


def test_addhost_checks_the_connection_and_prints_the_version(
    testbed: Testbed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cert, key = testbed.engine1.client_tls.write_files(str(tmp_path))
    call_command(
        "addhost",
        "prod",
        testbed.engine1.tls_url,
        "--tls-ca",
        ca,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--label",
        "env=prod",
    )
    out = capsys.readouterr().out
    assert "Added host prod" in out and "Docker 20.10" in out and "API 1.41" in out
    host = Host.objects.get(name="prod")
    assert host.status == "up" and host.labels == {"env": "prod"}


def test_addhost_refuses_with_the_reason(testbed: Testbed, tmp_path: Path) -> None:
    wrong_ca = tmp_path / "wrong.pem"
    wrong_ca.write_text(testbed.wrong_ca_pem)
    _, cert, key = testbed.engine1.client_tls.write_files(str(tmp_path))
    with pytest.raises(CommandError, match="TLS verification of the engine's certificate failed"):
        call_command(
            "addhost",
            "x",
            testbed.engine1.tls_url,
            "--tls-ca",
            str(wrong_ca),
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        )
    with pytest.raises(CommandError, match=r"no-such\.pem"):
        call_command("addhost", "x", testbed.engine1.tls_url, "--tls-ca", str(tmp_path / "no-such.pem"))
    with pytest.raises(CommandError, match="connection refused"):
        call_command("addhost", "x", "tcp://127.0.0.1:1")
    assert not Host.objects.exists()


def _write_context(
    config_dir: Path, name: str, endpoint: dict[str, object], tls_files: dict[str, str] | None = None
) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_dir = config_dir / "contexts" / "meta" / digest
    meta_dir.mkdir(parents=True)
    meta = {"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}}
    (meta_dir / "meta.json").write_text(json.dumps(meta))
    if tls_files:
        tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
        tls_dir.mkdir(parents=True)
        for file_name, pem in tls_files.items():
            (tls_dir / file_name).write_text(pem)


def test_importcontexts_adds_unix_and_tls_contexts_and_reports_the_rest(
    testbed: Testbed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = testbed.engine2.client_tls
    _write_context(tmp_path, "sock", {"Host": testbed.engine1.unix_url, "SkipTLSVerify": False})
    _write_context(tmp_path, "secure", {"Host": testbed.engine2.tls_url, "SkipTLSVerify": False},
                   {"ca.pem": tls.ca_pem, "cert.pem": tls.cert_pem, "key.pem": tls.key_pem})  # fmt: skip
    _write_context(tmp_path, "over-ssh", {"Host": "ssh://me@example.invalid", "SkipTLSVerify": False})
    Host.objects.create(name="taken", url="unix:///x.sock")
    _write_context(tmp_path, "taken", {"Host": testbed.engine1.unix_url})

    call_command("importcontexts", "--docker-config", str(tmp_path))
    captured = capsys.readouterr()
    assert "2 host(s) imported" in captured.out
    assert "skip taken: A host with this name exists" in captured.out
    assert "skip over-ssh" in captured.err and "Unsupported scheme 'ssh'" in captured.err
    assert Host.objects.get(name="secure").status == "up"
    assert Host.objects.get(name="secure").tls_key == tls.key_pem
    assert Host.objects.get(name="sock").status == "up"


def test_importcontexts_without_contexts_says_so(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No docker contexts found"):
        call_command("importcontexts", "--docker-config", str(tmp_path))
