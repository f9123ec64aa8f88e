"""Websocket routes of every app, mounted by `dockerweb.asgi`."""

from django.urls import URLPattern, URLResolver

from containers.routing import websocket_urlpatterns as container_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [*container_websockets]
