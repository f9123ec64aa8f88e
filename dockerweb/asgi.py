"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dockerweb.settings")
# Django must be set up before anything imports models (consumers and auth do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dockerweb.routing import websocket_urlpatterns  # noqa: E402
from hosts.auth import BrowserOriginValidator, WebsocketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
