from django.apps import AppConfig


class HostsConfig(AppConfig):
    """The host inventory and everything about reaching an engine."""

    name = "hosts"

    def ready(self) -> None:
        from hosts.api import schema  # noqa: F401 - registers the OpenAPI description of token auth
