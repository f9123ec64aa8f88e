"""TLS client certificates for the gateway: dockerweb's issuing CA, issuing, revoking and finding them.

A certificate names a user for the Docker-protocol gateway when it listens with TLS, as a token does in an
`Authorization` header, with the same optional limits (host name patterns, a maximum role, a default host
for BuildKit). The identity lives on the connection, so it covers every call, hijacked ones included, and
needs nothing in the client's config.json.

- The CA is made on first use (EC P-256, ten years) and kept in the database: every web, worker and gateway
  replica shares it without a shared disk, and its key is encrypted at rest like host TLS keys and registry
  passwords (hosts.crypto, with key rotation through DOCKERWEB_ENCRYPTION_KEY).
- A certificate's private key is generated here, returned once and never stored; the row keeps the serial,
  the SHA-256 fingerprint the gateway looks it up by, the public certificate, expiry, limits and revocation.
- `gateway_trust_pem()` finds the CA that signed the gateway's own server certificate: that, not the
  issuing CA, is what a client puts in DOCKER_CERT_PATH's ca.pem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hosts.models import ClientCertificate, ClientCertificateAuthority, Host, Role

GATEWAY_CLIENTS = "gateway-clients"  # the CA row's purpose
CA_VALIDITY = dt.timedelta(days=3650)
DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 3650
BACKDATE = dt.timedelta(minutes=5)  # clocks of clients and servers differ a little
_KEY_USAGE = {
    "content_commitment": False,
    "key_encipherment": False,
    "data_encipherment": False,
    "key_agreement": False,
    "encipher_only": False,
    "decipher_only": False,
}


@dataclass(frozen=True)
class IssuedCertificate:
    """A new certificate: its row, PEMs for the client, and the key (this is the only copy)."""

    row: ClientCertificate
    cert_pem: str
    key_pem: str
    ca_pem: str  # verifies the gateway's server certificate (DOCKER_CERT_PATH/ca.pem); "" when unknown


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, lower-case hex (as stored)."""
    return hashlib.sha256(der).hexdigest()


def _new_authority() -> tuple[str, str, dt.datetime]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dockerweb"),
            x509.NameAttribute(NameOID.COMMON_NAME, "dockerweb gateway client CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    not_after = now + CA_VALIDITY
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **_KEY_USAGE),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return _pem(cert), key_pem, not_after


def authority() -> ClientCertificateAuthority:
    """The issuing CA, created on first use (two processes racing to create it end up with the same one)."""
    found = ClientCertificateAuthority.objects.filter(purpose=GATEWAY_CLIENTS).first()
    if found is not None:
        return found
    cert_pem, key_pem, expires_at = _new_authority()
    try:
        with transaction.atomic():
            return ClientCertificateAuthority.objects.create(
                purpose=GATEWAY_CLIENTS, cert_pem=cert_pem, key_pem=key_pem, expires_at=expires_at
            )
    except IntegrityError:
        return ClientCertificateAuthority.objects.get(purpose=GATEWAY_CLIENTS)


def validity(valid_days: int | None) -> dt.timedelta:
    """A requested validity in days (default DEFAULT_VALIDITY_DAYS); raises ValidationError."""
    days = DEFAULT_VALIDITY_DAYS if valid_days is None else valid_days
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise ValidationError({"expires_in_days": f"Give 1 to {MAX_VALIDITY_DAYS} days."})
    return dt.timedelta(days=days)


def _validate_limits(scope_hosts: Iterable[str], max_role: str) -> list[str]:
    patterns = list(scope_hosts)
    if any(not isinstance(p, str) or not p.strip() or len(p) > 100 for p in patterns):
        raise ValidationError({"scope_hosts": "Host name patterns are non-empty strings (e.g. 'staging-*')."})
    if max_role and max_role not in Role.values:
        raise ValidationError({"max_role": f"One of {', '.join(Role.values)}, or empty."})
    return [p.strip() for p in patterns]


def issue(
    user: Any,
    name: str,
    *,
    issued_by: Any = None,
    valid_for: dt.timedelta | None = None,
    scope_hosts: Iterable[str] = (),
    max_role: str = "",
    default_host: Host | None = None,
    not_before: dt.datetime | None = None,
) -> IssuedCertificate:
    """Issue a client certificate for `user`; raises ValidationError. The key is returned, never stored.

    `not_before` (default: now) exists for tests that need certificates outside their validity; the
    certificate never outlives the CA."""
    name = name.strip()
    if not name or len(name) > ClientCertificate._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"name": "Give the certificate a name of 1 to 80 characters (e.g. 'laptop')."})
    if not user.is_active:
        raise ValidationError({"user": f"{user.get_username()} is deactivated."})
    patterns = _validate_limits(scope_hosts, max_role)
    if ClientCertificate.objects.filter(user=user, name=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": f"{user.get_username()} already has a certificate named {name!r}."})
    ca = authority()
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    start = (not_before or dt.datetime.now(dt.UTC)) - BACKDATE
    end = min(start + BACKDATE + (valid_for or validity(None)), ca_cert.not_valid_after_utc)
    key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dockerweb"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, name),
                    x509.NameAttribute(NameOID.COMMON_NAME, user.get_username()),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_KEY_USAGE),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_pem = _pem(cert)
    try:
        with transaction.atomic():
            row = ClientCertificate.objects.create(
                user=user,
                name=name,
                serial=format(serial, "x"),
                fingerprint=fingerprint(cert.public_bytes(serialization.Encoding.DER)),
                cert_pem=cert_pem,
                issued_by=issued_by,
                expires_at=end,
                scope_hosts=patterns,
                max_role=max_role,
                default_host=default_host,
            )
    except IntegrityError as exc:  # a concurrent issue with the same name
        message = f"{user.get_username()} already has a certificate named {name!r}."
        raise ValidationError({"name": message}) from exc
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return IssuedCertificate(row, cert_pem, key_pem, gateway_trust_pem())


def revoke(certificate: ClientCertificate) -> ClientCertificate:
    """Revoke a certificate (again is a no-op). The gateway refuses it within its auth cache time."""
    if certificate.revoked_at is None:
        now = timezone.now()
        ClientCertificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(revoked_at=now)
        certificate.refresh_from_db(fields=["revoked_at"])
    return certificate


def find(fingerprint_hex: str) -> ClientCertificate | None:
    """The certificate with this fingerprint, revoked and expired ones included (callers say which)."""
    rows = ClientCertificate.objects.select_related("user", "default_host")
    return rows.filter(fingerprint=fingerprint_hex).first()


def refusal(certificate: ClientCertificate | None) -> str | None:
    """Why this certificate does not authenticate anyone, or None when it does."""
    if certificate is None:
        return "was not issued by dockerweb"
    which = f"({certificate.name!r} of {certificate.user.get_username()}, serial {certificate.serial})"
    if certificate.revoked_at is not None:
        return f"{which} was revoked at {certificate.revoked_at:%Y-%m-%d %H:%M} UTC"
    if certificate.is_expired:
        return f"{which} expired at {certificate.expires_at:%Y-%m-%d %H:%M} UTC"
    if not certificate.user.is_active:
        return f"{which} belongs to a deactivated user"
    return None


# The CA for DOCKER_CERT_PATH/ca.pem: whoever signed the gateway's own server certificate.


def _load_pem_file(path: str) -> list[x509.Certificate]:
    if not path:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        return []


def _signed(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def gateway_trust_pem(
    server_cert_file: str | None = None, candidate_files: Iterable[str] | None = None
) -> str:
    """PEM of the CA chain that verifies the gateway's server certificate (DOCKERWEB_GATEWAY_TLS_CERT),
    found in that file's own chain or in DOCKERWEB_GATEWAY_TLS_CLIENT_CA; the certificate itself when it
    is self-signed; "" when the signer is not among them (a public CA, or files this process cannot read)."""
    chain = _load_pem_file(settings.GATEWAY_TLS_CERT if server_cert_file is None else server_cert_file)
    if not chain:
        return ""
    leaf, pool = chain[0], chain[1:]
    files = [settings.GATEWAY_TLS_CLIENT_CA] if candidate_files is None else list(candidate_files)
    for name in files:
        pool += _load_pem_file(name)
    if leaf.issuer == leaf.subject and _signed(leaf, leaf):
        return _pem(leaf)
    path: list[x509.Certificate] = []
    current = leaf
    while len(path) < 8:
        issuer = next((c for c in pool if c.subject == current.issuer and _signed(c, current)), None)
        if issuer is None or issuer in path:
            break
        path.append(issuer)
        if issuer.subject == issuer.issuer:
            break
        current = issuer
    return "".join(_pem(cert) for cert in path)


def write_cert_path(
    issued: IssuedCertificate, directory: str | os.PathLike[str], *, force: bool = False
) -> list[Path]:
    """Write ca.pem (when known), cert.pem and key.pem (0600) as docker's DOCKER_CERT_PATH expects them;
    refuses to overwrite existing files unless `force`. Returns the files written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    files = {"cert.pem": issued.cert_pem, "key.pem": issued.key_pem}
    if issued.ca_pem:
        files["ca.pem"] = issued.ca_pem
    if not force:
        existing = [name for name in files if (target / name).exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} already exist in {target} (use --force to replace)")
    written = []
    for name, pem in files.items():
        path = target / name
        mode = 0o600 if name == "key.pem" else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as out:
            out.write(pem)
        os.chmod(path, mode)  # an existing file keeps its old mode through O_CREAT
        written.append(path)
    return written
