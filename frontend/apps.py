from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """The browser dashboard, served as static files."""

    name = "frontend"
