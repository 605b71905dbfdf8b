"""Who is calling: the one answer every inbound protection is scoped by.

Rate limits and idempotency keys count and store per principal, so one caller can
neither use up another's budget nor replay another's response.  Until authentication
lands a caller is named by its API key (the `X-API-Key` header, or `x-api-key` gRPC
metadata) or, without one, by its network address; the auth work replaces `identify`
and everything scoped by a principal follows.

Only a digest of the key is kept: principals end up in Redis keys, database rows and
logs, where a credential must never appear.
"""

import hashlib
from dataclasses import dataclass

from starlette.requests import HTTPConnection

API_KEY_HEADER = "x-api-key"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """A caller: `id` is stable per caller and safe to store or log."""

    id: str


def identify(api_key: str | None, address: str | None) -> Principal:
    """The principal of a call that brought `api_key` (or none) from `address`."""
    if api_key:
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:32]
        return Principal(f"key:{digest}")
    return Principal(f"addr:{address}" if address else ANONYMOUS)


def of_connection(connection: HTTPConnection) -> Principal:
    """The principal of an HTTP request (REST and GraphQL)."""
    client = connection.client
    return identify(connection.headers.get(API_KEY_HEADER), client.host if client else None)


def of_peer(metadata: dict[str, str], peer: str | None) -> Principal:
    """The principal of a gRPC call: its metadata and `context.peer()` (`ipv4:host:port`)."""
    address = None
    if peer:
        # ipv4:127.0.0.1:5000, ipv6:[::1]:5000, unix:/path: the host without the port.
        kind, _, rest = peer.partition(":")
        address = rest if kind == "unix" else rest.rsplit(":", 1)[0].strip("[]")
    return identify(metadata.get(API_KEY_HEADER), address)
