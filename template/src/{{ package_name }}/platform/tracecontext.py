"""The W3C trace context of the current span: what an outbox row stores and what the
broker message carries in its headers, so a consumer's work joins the request's trace.

OpenTelemetry's API alone injects it (no SDK needed here); outside a trace there is
nothing to inject and the row stores None.
"""

from opentelemetry import propagate


def current_trace_context() -> dict[str, str] | None:
    """`traceparent` (and `tracestate`, baggage) of the active span, if there is one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None
