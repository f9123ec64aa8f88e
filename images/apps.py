from django.apps import AppConfig


class ImagesConfig(AppConfig):
    """Images, registries and the pull/build/push/commit jobs."""

    name = "images"
