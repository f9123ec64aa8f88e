"""The ASGI application for the browser tests' server: `dockerweb.asgi` with every app's websocket routes.

`dockerweb/routing.py` is another change's; until it mounts the containers' and images' routes, this puts
them into the very list the application's URLRouter holds (a no-op once they are mounted).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dockerweb.settings")

from dockerweb.asgi import application as _application
from dockerweb.routing import websocket_urlpatterns

for _module in ("containers.routing", "images.routing"):
    try:
        _routes: list[Any] = importlib.import_module(_module).websocket_urlpatterns
    except ImportError:
        continue
    _mounted = {str(route.pattern) for route in websocket_urlpatterns}
    websocket_urlpatterns.extend(route for route in _routes if str(route.pattern) not in _mounted)

application = _application
