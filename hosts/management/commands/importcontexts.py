"""manage.py importcontexts: add the user's docker contexts (~/.docker/contexts) as hosts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hosts import services
from hosts.engine.tls import TLSMaterial
from hosts.management.commands.addhost import format_validation_error
from hosts.models import Host


def _tls_material(context_dir: Path, skip_verify: bool) -> TLSMaterial:
    # The CLI keeps a context's TLS files in contexts/tls/<same hash as the meta folder>/docker/.
    def read(name: str) -> str:
        path = context_dir / name
        return path.read_text() if path.is_file() else ""

    return TLSMaterial(ca=read("ca.pem"), cert=read("cert.pem"), key=read("key.pem"), verify=not skip_verify)


class Command(BaseCommand):
    help = "Import docker CLI contexts (meta.json and TLS files) as hosts; existing names are left alone."

    def add_arguments(self, parser: CommandParser) -> None:
        default = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        parser.add_argument("--docker-config", default=default, help=f"Docker config dir (default {default})")
        parser.add_argument("--no-check", action="store_true", help="Store without connecting")

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(options["docker_config"]) / "contexts"
        meta_files = sorted((root / "meta").glob("*/meta.json"))
        if not meta_files:
            raise CommandError(f"No docker contexts found under {root / 'meta'}.")
        added = 0
        for meta_file in meta_files:
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, ValueError) as exc:
                self.stderr.write(f"skip {meta_file}: unreadable ({exc})")
                continue
            name = str(meta.get("Name", ""))
            endpoint = meta.get("Endpoints", {}).get("docker", {})
            url = str(endpoint.get("Host", ""))
            if Host.objects.filter(name=name).exists():
                self.stdout.write(f"skip {name}: a host with this name exists")
                continue
            tls = _tls_material(
                root / "tls" / meta_file.parent.name / "docker", bool(endpoint.get("SkipTLSVerify"))
            )
            try:
                host = services.register_host(name=name, url=url, tls=tls, check=not options["no_check"])
            except ValidationError as exc:
                self.stderr.write(f"skip {name}: {format_validation_error(exc)}")
                continue
            added += 1
            version = f"Docker {host.engine_version}" if host.engine_version else "not checked"
            self.stdout.write(f"added {host.name} ({host.url}): {version}")
        self.stdout.write(f"{added} host(s) imported")
