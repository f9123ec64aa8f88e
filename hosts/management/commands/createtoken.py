"""manage.py createtoken USER [--name N] [--expires DAYS]: prints a new API token once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hosts.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USER and print it (it is stored only as a hash and shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", help="Token name (default: cli-<timestamp>)")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Expire after DAYS days")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        name = options["name"] or f"cli-{timezone.now():%Y%m%d-%H%M%S}"
        if ApiToken.objects.filter(user=user, name=name).exists():
            raise CommandError(
                f"{options['username']} already has a token named {name!r}; pick another --name."
            )
        days = options["expires"]
        if days is not None and days < 1:
            raise CommandError("--expires must be at least 1 day.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        _, plaintext = ApiToken.issue(user, name, expires_at=expires_at)
        self.stdout.write(plaintext)
