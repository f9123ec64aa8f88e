from django.apps import AppConfig


class ContainersConfig(AppConfig):
    """Container lifecycle, logs, exec console and stats (REST and websockets)."""

    name = "containers"
