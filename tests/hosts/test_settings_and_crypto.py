"""Environment parsing fails loudly; secrets at rest survive key rotation and fail clearly without the key."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from dockerweb import env
from hosts import crypto


@pytest.mark.parametrize(
    ("helper", "value", "message"),
    [
        (lambda: env.env_bool("X", False), "maybe", "is not a boolean"),
        (lambda: env.env_int("X", 1), "ten", "is not an integer"),
        (lambda: env.env_int("X", 1, minimum=1), "0", "must be at least 1"),
        (lambda: env.env_float("X", 1.0), "fast", "is not a number"),
        (lambda: env.env_address("X", "127.0.0.1:8000"), "localhost", "is not a host:port address"),
        (lambda: env.env_address("X", "127.0.0.1:8000"), "127.0.0.1:99999", "is not a host:port address"),
    ],
)
def test_bad_environment_values_fail_loudly(
    monkeypatch: pytest.MonkeyPatch, helper: object, value: str, message: str
) -> None:
    monkeypatch.setenv("X", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        helper()  # type: ignore[operator]


def test_environment_values_parse(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("B", "yes")
    monkeypatch.setenv("A", "[::1]:2375")
    monkeypatch.setenv("L", "a, b,,c")
    assert env.env_bool("B") is True
    assert env.env_address("A", "x:1") == ("::1", 2375)
    assert env.env_list("L", []) == ["a", "b", "c"]


def test_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "s"  # type: ignore[operator]
    path.write_text("from-file\n")
    monkeypatch.setenv("S_FILE", str(path))
    assert env.env_str("S") == "from-file"
    monkeypatch.setenv("S_FILE", "/nonexistent/secret")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.env_str("S")


def test_rotation_keeps_old_secrets_readable_and_a_lost_key_is_a_clear_error() -> None:
    with override_settings(ENCRYPTION_KEYS=["old-key"]):
        stored = crypto.encrypt("s3cret")
    assert "s3cret" not in stored
    with override_settings(ENCRYPTION_KEYS=["new-key", "old-key"]):
        assert crypto.decrypt(stored) == "s3cret"
    with (
        override_settings(ENCRYPTION_KEYS=["new-key"]),
        pytest.raises(crypto.DecryptionError, match="rotate"),
    ):
        crypto.decrypt(stored)
