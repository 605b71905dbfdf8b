"""The in-process message bus: the transport when no broker URL is set.

Our own small code on purpose: FastStream and the brokers' clients have no production
in-memory broker (FastStream's TestBroker patches a real broker's client for tests).
This bus is a dictionary of subscriptions per event type, awaited in order; `publish`
returns only once every reaction has run (or been dead-lettered), so "accepted" means
"handled".  A reaction is tried `RetryPolicy.max_attempts` times; then the message lands
in the `dead_letters` table with the error, and the relay moves on.
"""

import logging
from collections import defaultdict

from .clock import Clock, utcnow
from .consumers import RetryPolicy, deliver
from .db import Database, DeadLetterRow
from .messages import Message, Subscription

logger = logging.getLogger(__name__)


class InProcessBus:
    """Delivers each message to every subscription to its event type, in this process."""

    def __init__(
        self,
        database: Database,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._database = database
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._subscriptions: defaultdict[str, list[Subscription]] = defaultdict(list)

    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.event_type].append(subscription)

    def subscribers(self, event_type: str) -> int:
        """How many reactions receive `event_type`."""
        return len(self._subscriptions.get(event_type, ()))

    async def start(self, *, consume: bool) -> None:
        """Nothing to connect.  The bus delivers wherever the relay runs, so `consume`
        has no effect: without a broker, relay and reactions share one process."""
        del consume

    async def stop(self) -> None:
        """Nothing to disconnect: `publish` finishes its deliveries before returning."""

    @property
    def connected(self) -> bool:
        return True  # it is in the process: there is nothing to lose

    async def publish(self, message: Message) -> None:
        """Hand the message to each subscription in turn.

        At-least-once: if the process dies midway, the relay delivers the message again
        to every subscription, so reactions are made idempotent with the inbox.
        """
        for subscription in list(self._subscriptions.get(message.event_type, ())):
            await deliver(subscription, message, policy=self._policy, dead_letter=self._bury)
        logger.debug("delivered %s %s", message.event_type, message.id)

    async def _bury(
        self,
        subscription: Subscription,
        message: Message,
        error: str,
        attempts: int,
    ) -> None:
        logger.error(
            "%s gave up on %s %s after %d attempts; it is in dead_letters",
            subscription.name,
            message.event_type,
            message.id,
            attempts,
        )
        async with self._database.unit_of_work(write=True) as session:
            await session.merge(
                DeadLetterRow(
                    consumer=subscription.name,
                    event_id=message.id,
                    event_type=message.event_type,
                    aggregate_type=message.aggregate_type,
                    aggregate_id=message.aggregate_id,
                    payload=message.payload,
                    error=error,
                    attempts=attempts,
                    dead_at=self._clock(),
                )
            )
