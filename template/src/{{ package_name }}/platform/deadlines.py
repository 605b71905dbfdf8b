"""Inbound deadlines: a caller's remaining budget becomes this request's deadline.

An HTTP caller states its budget in milliseconds in `X-Request-Timeout-Ms` (the service's
own outgoing calls send it the same way, platform/clients.py); a gRPC caller sets the
call's deadline, which the gRPC server hands on likewise.  Outgoing calls made while the
request is served shorten their timeouts to what is left (platform/resilience.py), so
the work downstream never outlives the caller's patience.

A pure ASGI middleware, not Starlette's BaseHTTPMiddleware: it only sets a context
variable, and BaseHTTPMiddleware would add a task and a copy of the body per request.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from .resilience import deadline_in

DEADLINE_HEADER = "x-request-timeout-ms"
_HEADER_BYTES = DEADLINE_HEADER.encode()


def parse_budget(value: str | bytes | None) -> float | None:
    """Seconds from a header's milliseconds; None when absent or not a positive number."""
    if value is None:
        return None
    try:
        milliseconds = float(value)
    except ValueError:
        return None
    if not milliseconds > 0 or milliseconds == float("inf"):
        return None
    return milliseconds / 1000


class DeadlineMiddleware:
    """Runs each HTTP request under the deadline its caller's budget sets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = None
        for name, value in scope["headers"]:
            if name == _HEADER_BYTES:
                budget = parse_budget(value)
                break
        with deadline_in(budget):
            await self.app(scope, receive, send)
