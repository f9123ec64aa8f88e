"""The gateway's own TLS listener: the server context, and who a client certificate names."""

from __future__ import annotations

import ssl

from . import conf


def server_context(
    cert_file: str = conf.TLS_CERT, key_file: str = conf.TLS_KEY, client_ca_file: str = conf.TLS_CLIENT_CA
) -> ssl.SSLContext | None:
    """The listener's SSLContext, or None when no certificate is configured (plain TCP)."""
    if not cert_file and not key_file:
        return None
    if not cert_file or not key_file:
        raise ValueError("Set both DOCKERWEB_GATEWAY_TLS_CERT and DOCKERWEB_GATEWAY_TLS_KEY, or neither.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        # Tokens still work; a certificate is optional on top, and checked against this CA when sent.
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
