"""The Docker-protocol gateway: the real docker CLI and SDK against `tcp://<gateway>/hosts/<name>`.

An asyncio server (h11 for HTTP/1.1) of its own, because no ASGI server passes a raw `Upgrade: tcp`
stream. Every request is authenticated by token (or, on a TLS listener, by a client certificate dockerweb
issued: hosts.client_certs), admitted by hosts.admission (roles, ownership, policy), relayed to the host's
engine without buffering, and audited when it changes something.

- server: the listener, connection tasks, per-token stream counts.
- connection: one client connection's requests in turn, and the engine connection they reuse.
- relay: one request: admission, the engine round trip, the response relay (plain, raw, filtered, hijacked).
- http: h11 on both sides, header rewriting, error replies; streams/tls: sockets and hand-driven TLS.
- routing: request lines to hosts and kinds of calls; filtering: what non-admins see; splice: hijacks.
- checks: the synchronous side (token or certificate, host, admission, audit rows) in a thread pool.
"""

from .server import Gateway, serve

__all__ = ["Gateway", "serve"]
