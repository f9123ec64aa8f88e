"""Websocket routes of every app, mounted by `dockerweb.asgi`."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
