"""Websocket routes of the containers app (mounted by `dockerweb.routing`)."""

from django.urls import URLPattern, URLResolver, path

from containers import consumers

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/hosts/<int:host_id>/containers/<str:container>/logs/", consumers.LogsConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/containers/<str:container>/exec/", consumers.ExecConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/containers/<str:container>/attach/", consumers.AttachConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/containers/<str:container>/stats/", consumers.StatsConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/logs/", consumers.MergedLogsConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/stats/", consumers.HostStatsConsumer.as_asgi()),
    path("ws/events/", consumers.EventsConsumer.as_asgi()),
]
