"""Inbound protection of the HTTP APIs (REST and GraphQL share the app): two pure ASGI
middlewares, outermost first.

- Load shedding (platform/shedding.py): above MAX_IN_FLIGHT_REQUESTS a request is refused
  at once with 503 and `Retry-After`, never queued.
- Rate limiting (platform/ratelimit.py): each principal (platform/principal.py) gets
  RATE_LIMIT; over it, 429 with `Retry-After`.  Every counted response carries the IETF
  `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and
  `RateLimit-Policy` headers.

Shedding comes first so a flood is refused before it costs even a rate-limit check.  The
probes and the metrics (EXEMPT_PATHS) pass both: an orchestrator must always reach them.
RATE_LIMIT_ENABLED / SHEDDING_ENABLED off: the middleware is not installed at all.  The
gRPC server shares the same limiter and gate (`app.state.protection`) through its
interceptors.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings
from .principal import of_connection
from .problems import Problem, ProblemResponse, title_of
from .ratelimit import REJECTIONS, RateLimiter
from .shedding import RETRY_AFTER_SECONDS, SHED, InFlightGate

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Protection:
    """The limiter and the in-flight gate of one process; None where switched off."""

    rate_limiter: RateLimiter | None
    gate: InFlightGate | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            rate_limiter=(
                RateLimiter.from_settings(settings) if settings.rate_limit_enabled else None
            ),
            gate=(
                InFlightGate(settings.max_in_flight_requests) if settings.shedding_enabled else None
            ),
        )

    async def close(self) -> None:
        if self.rate_limiter is not None:
            await self.rate_limiter.close()


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares settings ask for; `app.state.rate_limiter` is None without one."""
    protection = Protection.from_settings(settings)
    app.state.protection = protection
    app.state.rate_limiter = protection.rate_limiter
    # Each add_middleware wraps the ones added before it: shedding ends up outermost.
    if protection.rate_limiter is not None:
        app.add_middleware(RateLimitMiddleware, limiter=protection.rate_limiter)
    if protection.gate is not None:
        app.add_middleware(SheddingMiddleware, gate=protection.gate)


async def connect(app: FastAPI) -> None:
    """Connect what `install` made (the rate limiter's Redis) before the first request."""
    protection: Protection = app.state.protection
    if protection.rate_limiter is not None:
        await protection.rate_limiter.connect()


async def close(app: FastAPI) -> None:
    """Release what `install` opened (the Redis connections); the lifespan's last step."""
    protection: Protection = app.state.protection
    await protection.close()


def _exempt(scope: Scope) -> bool:
    # WebSockets hold a connection for long; only plain HTTP requests are counted.
    return scope["type"] != "http" or scope["path"] in EXEMPT_PATHS


def _problem(scope: Scope, status: int, detail: str, headers: Mapping[str, str]) -> ProblemResponse:
    body = Problem(title=title_of(status), status=status, detail=detail, instance=scope["path"])
    return ProblemResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


class SheddingMiddleware:
    """503 at once while the gate is full; the request is never queued."""

    def __init__(self, app: ASGIApp, gate: InFlightGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _exempt(scope):
            await self.app(scope, receive, send)
            return
        if not self.gate.try_enter():
            SHED.labels("http").inc()
            detail = "The service is at capacity; try again shortly"
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            await _problem(scope, 503, detail, headers)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()


class RateLimitMiddleware:
    """429 over the caller's limit; RateLimit-* headers on every counted response."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _exempt(scope):
            await self.app(scope, receive, send)
            return
        quota = await self.limiter.hit(of_connection(HTTPConnection(scope)).id)
        if quota is None:  # the count is unknown (Redis is down): fail open
            await self.app(scope, receive, send)
            return
        headers = quota.headers()
        if not quota.allowed:
            REJECTIONS.labels("http").inc()
            detail = f"Rate limit reached; retry in {quota.retry_after_seconds} s"
            await _problem(scope, 429, detail, headers)(scope, receive, send)
            return
        raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *raw]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
