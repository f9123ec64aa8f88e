"""Gateway settings (from dockerweb/settings.py) and the fixed sizes that bound its buffers."""

from __future__ import annotations

from django.conf import settings

# The gateway's knobs come from dockerweb/settings.py (DOCKERWEB_GATEWAY_*); named here once for its modules.
MAX_STREAMS_PER_TOKEN: int = settings.GATEWAY_MAX_STREAMS_PER_TOKEN
MAX_CONNECTIONS: int = settings.GATEWAY_MAX_CONNECTIONS
IDLE_TIMEOUT: float = settings.GATEWAY_IDLE_TIMEOUT
REQUEST_TIMEOUT: float = settings.GATEWAY_REQUEST_TIMEOUT
AUTH_CACHE_SECONDS: float = settings.GATEWAY_AUTH_CACHE_SECONDS
DB_THREADS: int = settings.GATEWAY_DB_THREADS
HEAD_TIMEOUT: float = settings.GATEWAY_HEAD_TIMEOUT
MAX_CONNECTIONS_PER_ADDRESS: int = settings.GATEWAY_MAX_CONNECTIONS_PER_ADDRESS
ACCESS_RECHECK_SECONDS: float = settings.ACCESS_RECHECK_SECONDS
MAX_FILTERED_BYTES: int = settings.GATEWAY_MAX_FILTERED_BYTES
TLS_CERT: str = settings.GATEWAY_TLS_CERT
TLS_KEY: str = settings.GATEWAY_TLS_KEY
TLS_CLIENT_CA: str = settings.GATEWAY_TLS_CLIENT_CA
# `docker load` by a caller below admin is spooled to be checked first (the tags it sets): at most this much.
MAX_LOAD_BYTES: int = settings.IMAGES_MAX_UPLOAD_BYTES

# Not settings: sizes that bound every buffer.
READ_CHUNK = 64 * 1024  # one read from a socket
MAX_SPOOLED_IN_MEMORY = 16 << 20  # a spooled request body larger than this waits in a temporary file
MAX_HEAD_BYTES = 64 * 1024  # request or response head (h11's incomplete-event limit)
MAX_PIPELINED_BYTES = 64 * 1024  # bytes a client may send ahead while its previous response streams
MAX_AUDITED_RESPONSE_BYTES = 64 * 1024  # response bytes kept to name the created object or the error
MAX_STREAM_LINE_BYTES = 1 << 20  # one JSON line of /events or of pull/push/build progress
LINGER_SECONDS = 1.0  # a refused connection is read (and dropped) this long, so the client gets our reply
COALESCE_BELOW, COALESCE_SECONDS = 16 * 1024, 0.002  # raw bodies: small reads wait this long for more
