"""manage.py gateway: the Docker-protocol gateway on DOCKERWEB_GATEWAY (default 127.0.0.1:2375)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hosts.gateway import serve
from hosts.gateway.tls import server_context


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): a faster loop for a relay; else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class Command(BaseCommand):
    help = (
        "Serve the Docker API of every registered host at tcp://ADDRESS/hosts/<name>, with tokens and policy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--address", help="HOST:PORT to listen on (default: DOCKERWEB_GATEWAY)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = settings.GATEWAY_ADDRESS
        if options["address"]:
            host, _, raw_port = options["address"].rpartition(":")
            if not host or not raw_port.isdigit():
                raise CommandError("--address takes HOST:PORT, e.g. 127.0.0.1:2375.")
            port = int(raw_port)
        try:
            context = server_context()
        except (ValueError, OSError) as exc:
            raise CommandError(f"Gateway TLS: {exc}") from exc
        logging.getLogger("hosts.gateway").setLevel(logging.INFO)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self._run(host, int(port), context))

    async def _run(self, host: str, port: int, context: Any) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve(host, port, stop, ssl_context=context)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write("gateway stopped")
