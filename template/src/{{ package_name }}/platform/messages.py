"""Messages on the wire, who consumes them, and the transport contract every broker meets.

A `Message` is one domain event as it travels: the outbox row's identity (event id,
aggregate), its JSON payload and the trace context it was written under.  A
`Subscription` is one reaction of one domain to one event type.  A `Transport` moves
messages from the outbox relay to the subscriptions: the in-process bus (platform/bus.py)
or a broker (platform/messaging.py picks one from the settings).
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

# The header each broker message carries its event type in, so a consumer can pick the
# events it subscribed to without decoding the body.
EVENT_TYPE_HEADER = "event-type"


@dataclass(frozen=True, kw_only=True)
class Message:
    """A domain event on the wire: what a consumer receives."""

    id: UUID
    event_type: str
    aggregate_type: str
    aggregate_id: UUID
    payload: dict[str, Any]
    occurred_at: datetime
    trace_context: dict[str, str] | None = field(default=None)


class TransportUnavailable(Exception):
    """The broker can't take messages now (down, unreachable, reconnecting).

    The relay ends its pass and tries again later, without counting it against any
    aggregate: an outage is not a property of the event.
    """


Handler = Callable[[Message], Awaitable[None]]
Publisher = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """One reaction: `group` (the consuming domain) handles `event_type` of `source`.

    `name` is unique per reaction: it keys the inbox (one effect per name and event) and
    names the reaction's queue; `group` is the Kafka consumer group.
    """

    group: str
    name: str
    source: str
    event_type: str
    handler: Handler


class Transport(Protocol):
    """What the relay publishes to and the reactions subscribe on."""

    def subscribe(self, subscription: Subscription) -> None:
        """Register a reaction; call before `start`."""

    async def start(self, *, consume: bool) -> None:
        """Connect (in the background when a broker is away) and, if `consume`, deliver."""

    @property
    def connected(self) -> bool:
        """Whether it can take messages now (for /readyz's report; never blocks)."""

    async def publish(self, message: Message) -> None:
        """Return only once the message is safe (the broker confirmed it); else raise."""

    async def stop(self) -> None:
        """Stop consuming, finish deliveries in progress and disconnect."""


def encode(message: Message) -> bytes:
    """The message body brokers carry: JSON, as contracts/asyncapi.yaml describes it."""
    return json.dumps(
        {
            "id": str(message.id),
            "type": message.event_type,
            "aggregate_type": message.aggregate_type,
            "aggregate_id": str(message.aggregate_id),
            "occurred_at": message.occurred_at.isoformat(),
            "payload": message.payload,
        },
        separators=(",", ":"),
    ).encode()


def headers(message: Message) -> dict[str, str]:
    """The headers a broker message carries: its type and the W3C trace context."""
    return {EVENT_TYPE_HEADER: message.event_type, **(message.trace_context or {})}


def decode(body: bytes, carried: Mapping[str, str]) -> Message:
    """The message `encode` wrote, with the trace context from the headers it came with."""
    document = json.loads(body)
    trace_context = {
        key: value for key, value in carried.items() if key in ("traceparent", "tracestate")
    }
    return Message(
        id=UUID(document["id"]),
        event_type=document["type"],
        aggregate_type=document["aggregate_type"],
        aggregate_id=UUID(document["aggregate_id"]),
        payload=document["payload"],
        occurred_at=datetime.fromisoformat(document["occurred_at"]),
        trace_context=trace_context or None,
    )
