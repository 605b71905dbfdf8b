"""The W3C trace context an event travels with, and the spans of its journey.

An outbox row stores the trace context its event was recorded in (the request's span);
the relay publishes it in a PRODUCER span that is a child of that stored context, and
the message leaves carrying the *publish* span's context in its headers, so each
reaction's CONSUMER span is a child of the publish.  Request, publish and reactions are
one trace, across processes and brokers.

The relay runs in no request's context: each publish span takes its parent from the row
alone (an empty context otherwise), never from whatever happens to be current.  Only
the OpenTelemetry API is used here; without the SDK the spans cost nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from .messages import Message, Subscription

tracer = trace.get_tracer(__name__)


def current_trace_context() -> dict[str, str] | None:
    """`traceparent` (and `tracestate`, baggage) of the active span, if there is one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def stored_context(message: Message) -> Context:
    """The context `message` was recorded (or published) in; empty when it has none."""
    return propagate.extract(message.trace_context or {}, context=Context())


@contextmanager
def publishing(message: Message) -> Iterator[Message]:
    """The relay's publish span; yields the message to send, carrying that span's context."""
    with _span(
        f"publish {message.event_type}",
        SpanKind.PRODUCER,
        message,
        {"messaging.operation.type": "send"},
    ):
        yield replace(message, trace_context=current_trace_context())


@contextmanager
def consuming(subscription: Subscription, message: Message) -> Iterator[None]:
    """One reaction's handling of `message`: a child of the span that published it."""
    attributes = {
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": subscription.group,
        "messaging.consumer.name": subscription.name,
    }
    with _span(f"process {message.event_type}", SpanKind.CONSUMER, message, attributes):
        yield


@contextmanager
def _span(
    name: str, kind: SpanKind, message: Message, attributes: dict[str, str]
) -> Iterator[None]:
    """A span of `message`'s journey, the child of the context it carries (else a root);
    attributes are set only when it is recorded (sampled)."""
    with tracer.start_as_current_span(name, context=stored_context(message), kind=kind) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.destination.name": message.event_type,
                    "messaging.message.id": str(message.id),
                    **attributes,
                }
            )
        yield
