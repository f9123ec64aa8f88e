"""The gateway's own TLS listener: the server context, and which client certificates it accepts.

With TLS on, the gateway asks every client for a certificate, optionally: one issued by dockerweb
(hosts.client_certs) names its user for every request on the connection; without one, requests carry a
token as on plain TCP. A certificate is verified here, in the handshake, against dockerweb's issuing CA
(and DOCKERWEB_GATEWAY_TLS_CLIENT_CA when set: certificates of that CA pass the handshake but name nobody,
so their requests need a token). An expired certificate, or one of another CA, fails the handshake with a
TLS alert the client reports ("expired certificate", "unknown certificate authority"); a revoked one is
refused per request with a 401 (checks.authenticate).

The issuing CA is read (or made, on first use) when the listener starts: a CA replaced in the database
takes effect at the gateway's next start.
"""

from __future__ import annotations

import ssl

from django.db import DatabaseError

from hosts import client_certs

from . import conf


def server_context(
    cert_file: str = conf.TLS_CERT,
    key_file: str = conf.TLS_KEY,
    client_ca_file: str = conf.TLS_CLIENT_CA,
    *,
    issued_certificates: bool = True,
) -> ssl.SSLContext | None:
    """The listener's SSLContext, or None when no certificate is configured (plain TCP).

    `issued_certificates` trusts the certificates dockerweb issues (hosts.client_certs; needs the
    database)."""
    if not cert_file and not key_file:
        return None
    if not cert_file or not key_file:
        raise ValueError("Set both DOCKERWEB_GATEWAY_TLS_CERT and DOCKERWEB_GATEWAY_TLS_KEY, or neither.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert_file, key_file)
    if issued_certificates:
        try:
            issuer = client_certs.authority()
        except DatabaseError as exc:
            raise ValueError(f"cannot read the client certificate CA ({exc}); run manage.py migrate") from exc
        context.load_verify_locations(cadata=issuer.cert_pem)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
    if issued_certificates or client_ca_file:
        # Tokens still work: a certificate is optional, and verified when sent.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
