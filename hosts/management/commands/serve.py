"""manage.py serve: the whole product on one machine (what `make run` starts)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from dockerweb.launcher import Supervisor, product_children, redis_child, wait_for_socket
from hosts.services import ensure_local_host


class Command(BaseCommand):
    help = "Start embedded Redis (unless REDIS_URL is set), the web server, a Celery worker and beat."

    def handle(self, *args: Any, **options: Any) -> None:
        supervisor = Supervisor(lambda line: self.stdout.write(f"[dockerweb] {line}"))
        try:
            if settings.REDIS_EMBEDDED:
                socket_path = settings.REDIS_URL.removeprefix("unix://")
                Path(socket_path).unlink(missing_ok=True)
                supervisor.start(redis_child(settings.DATA_DIR, socket_path))
                wait_for_socket(socket_path)
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            self._bootstrap()
            for child in product_children():
                supervisor.start(child)
        except BaseException:
            supervisor.stop_all()
            raise
        host, port = settings.HTTP_ADDRESS
        gateway_host, gateway_port = settings.GATEWAY_ADDRESS
        self.stdout.write(
            f"\n  dockerweb is running: open http://{host}:{port}/ "
            f"(API docs: http://{host}:{port}/api/v1/docs/).\n"
            f"  Docker CLI: DOCKER_HOST=tcp://{gateway_host}:{gateway_port}/hosts/local with your token in "
            f'config.json "HttpHeaders". Ctrl-C stops everything.\n'
        )
        raise SystemExit(supervisor.watch())

    def _bootstrap(self) -> None:
        local = ensure_local_host(settings.DATA_DIR / "local-host-registered")
        if local is not None:
            detail = (
                f"Docker {local.engine_version}" if local.status == "up" else f"down: {local.status_error}"
            )
            self.stdout.write(f"[dockerweb] registered host 'local' ({local.url}): {detail}")
        user_model = get_user_model()
        if not user_model.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser("admin", "", password)
            # Printed this once only: it is not stored anywhere but as Django's password hash.
            self.stdout.write(f"[dockerweb] created user 'admin' with one-time password: {password}")
            self.stdout.write("[dockerweb] change it after logging in (/admin/password_change/).")
