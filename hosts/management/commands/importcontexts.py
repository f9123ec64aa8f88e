"""manage.py importcontexts: add the user's docker contexts (~/.docker/contexts) as hosts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hosts import contexts


class Command(BaseCommand):
    help = "Import docker CLI contexts (meta.json and TLS files) as hosts; existing names are left alone."

    def add_arguments(self, parser: CommandParser) -> None:
        default = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        parser.add_argument("--docker-config", default=default, help=f"Docker config dir (default {default})")
        parser.add_argument("--no-check", action="store_true", help="Store without connecting")

    def handle(self, *args: Any, **options: Any) -> None:
        found = list(contexts.from_config_dir(Path(options["docker_config"])))
        if not found:
            root = Path(options["docker_config"]) / "contexts" / "meta"
            raise CommandError(f"No docker contexts found under {root}.")
        results = contexts.import_contexts(found, check=not options["no_check"])
        for result in results:
            if result.outcome is contexts.Outcome.ADDED:
                self.stdout.write(f"added {result.name} ({result.message})")
            elif result.outcome is contexts.Outcome.SKIPPED:
                self.stdout.write(f"skip {result.name}: {result.message}")
            else:
                self.stderr.write(f"skip {result.name or 'a context'}: {result.message}")
        added = sum(result.outcome is contexts.Outcome.ADDED for result in results)
        self.stdout.write(f"{added} host(s) imported")
