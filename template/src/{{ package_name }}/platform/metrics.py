"""Prometheus metrics: RED metrics of the HTTP APIs, and `/metrics` to scrape them all.

The stack is prometheus-client: one process-wide registry that the resilience (breaker
state), protection (rate-limit rejections, shed requests) and HTTP metrics all register
in, exposed in Prometheus' text format.  An observation is a lock and an addition, where
OpenTelemetry metrics with a Prometheus reader would add the SDK's views and aggregation
on every request for the same scrape.

Requests are labelled by their route *template* (`/orders/{order_id}`), never by the raw
path, so the number of series stays bounded whatever clients send; a request no route
matched is labelled `<unmatched>`.  A pure ASGI middleware, for the reason given in
platform/deadlines.py.
"""

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings

PATH = "/metrics"
UNMATCHED = "<unmatched>"

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests served, by method, route template and status code",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to serve an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def install(app: FastAPI, settings: Settings) -> None:
    """Measure every HTTP request (unless METRICS_ENABLED is off) and serve `/metrics`
    (left out of the API contract)."""
    if settings.metrics_enabled:
        app.add_middleware(MetricsMiddleware)
    app.add_api_route(PATH, scrape, methods=["GET"], include_in_schema=False)


async def scrape(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts each HTTP request and times it, labelled by the route that served it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app fails before it answers
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            DURATION.labels(method, route).observe(time.perf_counter() - started)
