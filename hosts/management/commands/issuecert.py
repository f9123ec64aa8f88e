"""manage.py issuecert USER --out DIR: a TLS client certificate for the gateway, as DOCKER_CERT_PATH files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hosts import audit, client_certs
from hosts.models import EntryPoint, Host, Outcome, Role


class Command(BaseCommand):
    help = (
        "Issue a TLS client certificate that identifies USER to the gateway (when it listens with TLS) and "
        "write ca.pem, cert.pem and key.pem into DIR for DOCKER_CERT_PATH. The key is not kept anywhere else."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--out", required=True, metavar="DIR", help="Directory for the three PEM files")
        parser.add_argument("--name", help="Certificate name (default: cli-<timestamp>)")
        parser.add_argument(
            "--days",
            type=int,
            default=client_certs.DEFAULT_VALIDITY_DAYS,
            help=f"Validity in days (default {client_certs.DEFAULT_VALIDITY_DAYS})",
        )
        parser.add_argument(
            "--scope-hosts", nargs="+", default=[], metavar="PATTERN", help="Limit to hosts like staging-*"
        )
        parser.add_argument("--max-role", choices=Role.values, default="", help="Cap the role it carries")
        parser.add_argument("--default-host", metavar="HOST", help="Host for BuildKit's /grpc and /session")
        parser.add_argument(
            "--ca",
            metavar="FILE",
            help="The CA that signed the gateway's certificate, copied to ca.pem (default: found from "
            "DOCKERWEB_GATEWAY_TLS_CERT and DOCKERWEB_GATEWAY_TLS_CLIENT_CA)",
        )
        parser.add_argument("--force", action="store_true", help="Replace existing files in DIR")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = options["username"]
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        out = Path(options["out"])
        ca_override = ""
        if options["ca"]:
            try:
                ca_override = Path(options["ca"]).read_text()
            except OSError as exc:
                raise CommandError(f"--ca: {exc}") from exc
            if "-----BEGIN CERTIFICATE-----" not in ca_override:
                raise CommandError(f"--ca: {options['ca']} holds no PEM certificate.")
        existing = [name for name in ("ca.pem", "cert.pem", "key.pem") if (out / name).exists()]
        if existing and not options["force"]:
            raise CommandError(f"{', '.join(existing)} already exist in {out}; use --force to replace them.")
        default_host = None
        if options["default_host"]:
            default_host = Host.objects.filter(name=options["default_host"]).first()
            if default_host is None:
                raise CommandError(f"No host named {options['default_host']!r}.")
        name = options["name"] or f"cli-{timezone.now():%Y%m%d-%H%M%S}"
        try:
            issued = client_certs.issue(
                user,
                name,
                valid_for=client_certs.validity(options["days"]),
                scope_hosts=options["scope_hosts"],
                max_role=options["max_role"],
                default_host=default_host,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if ca_override:
            issued = client_certs.IssuedCertificate(issued.row, issued.cert_pem, issued.key_pem, ca_override)
        row = issued.row
        try:
            written = client_certs.write_cert_path(issued, out, force=True)
        except OSError as exc:
            client_certs.revoke(row)  # its key is lost: the certificate must not stay valid
            raise CommandError(f"Cannot write the files (the certificate was revoked): {exc}") from exc
        audit.record(
            who=None,
            entry_point=EntryPoint.COMMAND,
            action="certificate.create",
            outcome=Outcome.SUCCESS,
            object_id=str(row.pk),
            object_name=row.name,
            detail=f"client certificate for {username}, serial {row.serial}, "
            f"expires {row.expires_at:%Y-%m-%d}",
        )
        self.stdout.write(f"Wrote {', '.join(path.name for path in written)} to {out}")
        self.stdout.write(
            f"certificate {row.name!r} for {username}: serial {row.serial}, sha256 {row.fingerprint}, "
            f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        if not issued.ca_pem:
            self.stderr.write(
                "No ca.pem: this process cannot tell which CA signed the gateway's server certificate "
                "(DOCKERWEB_GATEWAY_TLS_CERT). Put that CA in ca.pem, or run again with --ca FILE."
            )
        self.stdout.write(
            f"Use: DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH={out} "
            "DOCKER_HOST=tcp://<gateway>:<port>/hosts/<host> docker ps"
        )
