"""Gateway settings, read from the environment once (to move into dockerweb/settings.py as GATEWAY_*)."""

from __future__ import annotations

from dockerweb.env import env_float, env_int, env_str

# Concurrent requests (streams and hijacked sessions included) one token may hold open; more get 429.
MAX_STREAMS_PER_TOKEN = env_int("DOCKERWEB_GATEWAY_MAX_STREAMS_PER_TOKEN", 64, minimum=1)
# Client connections the gateway holds at once; the listener stops accepting above this.
MAX_CONNECTIONS = env_int("DOCKERWEB_GATEWAY_MAX_CONNECTIONS", 2048, minimum=1)
# A kept-alive connection with no request for this long is closed (streams and sessions are exempt).
IDLE_TIMEOUT = env_float("DOCKERWEB_GATEWAY_IDLE_TIMEOUT", 120.0, minimum=1.0)
# Time allowed for a request head, and between two reads of a request body (slow or stuck clients).
REQUEST_TIMEOUT = env_float("DOCKERWEB_GATEWAY_REQUEST_TIMEOUT", 60.0, minimum=1.0)
# Seconds a verified token (and a host row) is reused before the database is asked again: revoking a
# token or changing a host takes effect within this time. 0 reads both on every request.
AUTH_CACHE_SECONDS = env_float("DOCKERWEB_GATEWAY_AUTH_CACHE_SECONDS", 2.0, minimum=0.0)
# Threads for the database and the admission checks (which may ask the engine about an object).
DB_THREADS = env_int("DOCKERWEB_GATEWAY_DB_THREADS", 8, minimum=1)
# Largest list response (containers, networks, volumes, df) buffered to filter it for a non-admin.
MAX_FILTERED_BYTES = env_int("DOCKERWEB_GATEWAY_MAX_FILTERED_BYTES", 64 << 20, minimum=1 << 16)
# TLS on the client side: PEM files; with a client CA, clients must present a certificate it signed.
TLS_CERT = env_str("DOCKERWEB_GATEWAY_TLS_CERT")
TLS_KEY = env_str("DOCKERWEB_GATEWAY_TLS_KEY")
TLS_CLIENT_CA = env_str("DOCKERWEB_GATEWAY_TLS_CLIENT_CA")

# Not settings: sizes that bound every buffer.
READ_CHUNK = 64 * 1024  # one read from a socket
MAX_HEAD_BYTES = 64 * 1024  # request or response head (h11's incomplete-event limit)
MAX_PIPELINED_BYTES = 64 * 1024  # bytes a client may send ahead while its previous response streams
MAX_AUDITED_RESPONSE_BYTES = 64 * 1024  # response bytes kept to name the created object or the error
MAX_STREAM_LINE_BYTES = 1 << 20  # one JSON line of /events or of pull/push/build progress
COALESCE_BELOW, COALESCE_SECONDS = 16 * 1024, 0.002  # raw bodies: small reads wait this long for more
