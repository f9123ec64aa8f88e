from django.apps import AppConfig


class ImagesConfig(AppConfig):
    """Images, registries and the pull/build/push/commit jobs."""

    name = "images"

    def ready(self) -> None:
        from hosts.gateway import local
        from images.services.engine_images import gateway_search

        local.register("GET", "/images/search", gateway_search)
