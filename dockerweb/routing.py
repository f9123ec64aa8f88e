"""Websocket routes of every app, mounted by `dockerweb.asgi`."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import URLPattern, URLResolver, re_path

from containers.routing import websocket_urlpatterns as container_websockets
from hosts.live import CloseCode
from images.routing import websocket_urlpatterns as image_websockets


class NoSuchRoute(AsyncWebsocketConsumer):
    """A path no route matches (a reference with '/' in it, say): an error message, then closed with 4404,
    like every refusal of a consumer; never an application error."""

    # No channel layer: nothing reaches this socket through one, and a layer would hold a Redis poll.
    channel_layer_alias = "__no_channel_layer__"

    async def connect(self) -> None:
        message = f"No websocket endpoint at {self.scope.get('path', '')!r}."
        await self.accept()
        error = {"type": "error", "code": int(CloseCode.NOT_FOUND), "message": message}
        await self.send(text_data=json.dumps(error))
        await self.close(code=CloseCode.NOT_FOUND, reason=message[:120])


websocket_urlpatterns: list[URLPattern | URLResolver] = [
    *container_websockets,
    *image_websockets,
    re_path(r"", NoSuchRoute.as_asgi()),
]
