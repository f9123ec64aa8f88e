from django.apps import AppConfig


class HostsConfig(AppConfig):
    """The host inventory and everything about reaching an engine."""

    name = "hosts"
