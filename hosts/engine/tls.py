"""TLS material for engines: PEM validation and in-memory SSL contexts.

Keys are decrypted from the database into memory only: Python's `load_cert_chain` wants file paths, so the
chain is handed over through an anonymous memory file (memfd) that never touches a disk.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class TLSMaterialError(ValueError):
    """Invalid TLS material; `field` names the offending input (tls_ca, tls_cert, tls_key)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TLSMaterial:
    ca: str = ""
    cert: str = ""
    key: str = ""
    verify: bool = True


def load_certificates(field: str, pem: str) -> list[x509.Certificate]:
    """Every certificate in `pem`; raises TLSMaterialError naming `field` if any is broken."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise TLSMaterialError(field, "Not a PEM certificate (expected '-----BEGIN CERTIFICATE-----').")
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise TLSMaterialError(field, f"The PEM certificate cannot be parsed: {exc}") from exc


def load_private_key(field: str, pem: str) -> PrivateKeyTypes:
    if "PRIVATE KEY-----" not in pem:
        raise TLSMaterialError(field, "Not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----').")
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError as exc:
        raise TLSMaterialError(
            field, "The private key is encrypted with a passphrase; store it unencrypted."
        ) from exc
    except ValueError as exc:
        raise TLSMaterialError(field, f"The private key cannot be parsed: {exc}") from exc


def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def validate_material(material: TLSMaterial) -> None:
    """Check every PEM input and that the key belongs to the certificate; raises TLSMaterialError."""
    if bool(material.cert) != bool(material.key):
        missing = "tls_key" if material.cert else "tls_cert"
        raise TLSMaterialError(missing, "A client certificate and its private key must be given together.")
    if material.ca:
        load_certificates("tls_ca", material.ca)
    if material.cert:
        cert = load_certificates("tls_cert", material.cert)[0]
        key = load_private_key("tls_key", material.key)
        if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
            raise TLSMaterialError("tls_key", "The private key does not match the client certificate.")


@lru_cache(maxsize=256)
def ssl_context(material: TLSMaterial) -> ssl.SSLContext:
    """A client SSL context for an engine; cached per material so connections reuse one context."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=material.ca or None)
    if not material.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if material.cert:
        fd = os.memfd_create("dockerweb-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, (material.cert.strip() + "\n" + material.key.strip() + "\n").encode())
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    return context
