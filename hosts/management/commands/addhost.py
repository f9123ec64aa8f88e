"""manage.py addhost NAME URL [--tls-ca F --tls-cert F --tls-key F] [--no-verify] [--no-check]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hosts import services
from hosts.engine.tls import TLSMaterial


def read_pem(path: str | None, option: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise CommandError(f"{option} {path}: {exc.strerror}") from exc


class Command(BaseCommand):
    help = "Add a Docker host after checking that it answers; prints the engine version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("url", help="unix:///var/run/docker.sock or tcp://host:2376")
        parser.add_argument("--tls-ca", help="PEM file of the CA that signed the engine's certificate")
        parser.add_argument("--tls-cert", help="PEM file of the client certificate")
        parser.add_argument("--tls-key", help="PEM file of the client key")
        parser.add_argument("--no-verify", action="store_true", help="Do not verify the engine's certificate")
        parser.add_argument("--no-check", action="store_true", help="Store without connecting")
        parser.add_argument("--label", action="append", default=[], help="key=value (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        tls = TLSMaterial(
            ca=read_pem(options["tls_ca"], "--tls-ca"),
            cert=read_pem(options["tls_cert"], "--tls-cert"),
            key=read_pem(options["tls_key"], "--tls-key"),
            verify=not options["no_verify"],
        )
        labels = dict(item.partition("=")[::2] for item in options["label"])
        try:
            host = services.register_host(
                name=options["name"],
                url=options["url"],
                tls=tls,
                labels=labels,
                check=not options["no_check"],
            )
        except ValidationError as exc:
            raise CommandError(
                f"Host {options['name']!r} not added: {services.validation_message(exc)}"
            ) from exc
        if host.engine_version:
            self.stdout.write(
                f"Added host {host.name} ({host.url}): Docker {host.engine_version}, API {host.api_version}"
            )
        else:
            self.stdout.write(f"Added host {host.name} ({host.url}) without checking it")
