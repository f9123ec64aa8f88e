"""Websocket routes of the images app (mounted by `dockerweb.routing`)."""

from django.urls import URLPattern, URLResolver, path

from images import consumers

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/jobs/", consumers.JobsConsumer.as_asgi()),
    path("ws/jobs/<uuid:job_id>/", consumers.JobConsumer.as_asgi()),
]
