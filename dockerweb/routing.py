"""Websocket routes of every app, mounted by `dockerweb.asgi`."""

from django.urls import URLPattern, URLResolver

from containers.routing import websocket_urlpatterns as container_websockets
from images.routing import websocket_urlpatterns as image_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [*container_websockets, *image_websockets]
