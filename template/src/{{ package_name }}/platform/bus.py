"""The in-process message bus: what the outbox relay publishes to when no broker is set.

Our own small code on purpose: FastStream (the broker client the Kafka and RabbitMQ
transports will use) has no production in-memory broker, only a test double that patches
a real broker's client.  This bus is a dictionary of handlers per event type, awaited in
order; `publish` returns only when every handler has, so "accepted" means "handled", and
a handler that raises makes the relay keep the event pending and try again later.
"""

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

logger = logging.getLogger(__name__)


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


Handler = Callable[[Message], Awaitable[None]]
Publisher = Callable[[Message], Awaitable[None]]


class InProcessBus:
    """Delivers each message to every handler subscribed to its event type."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def subscribers(self, event_type: str) -> int:
        """How many handlers receive `event_type` (for tests and health)."""
        return len(self._handlers.get(event_type, ()))

    async def publish(self, message: Message) -> None:
        """Hand the message to each subscriber in turn; raise if any of them fails.

        At-least-once: after a failure the relay delivers the message again to every
        subscriber, so handlers are made idempotent with the inbox (platform/inbox.py).
        """
        for handler in list(self._handlers.get(message.event_type, ())):
            await handler(message)
        logger.debug("delivered %s %s", message.event_type, message.id)
