"""Bounded attempts for a reaction, then a dead letter.

The in-process bus and the Kafka transport retry a failing reaction here, in process,
with exponential backoff; after `max_attempts` the message goes to the transport's
dead-letter store with the error, so one poison message never blocks the ones behind
it.  (RabbitMQ and NATS count the attempts themselves: platform/rabbitmq.py, nats.py.)

Every attempt, whatever the transport, runs through `handle`: the consumer span and the
`consumer_failures_total` metric; every dead letter is counted by `dead_lettered`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter

from .messages import Message, Subscription
from .tracecontext import consuming

logger = logging.getLogger(__name__)

FAILURES = Counter(
    "consumer_failures_total",
    "Failed attempts of a reaction (consumer) on a message",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "consumer_dead_letters_total",
    "Messages a reaction gave up on after its attempts, now in the dead-letter store",
    ["consumer"],
)

DeadLetter = Callable[[Subscription, Message, str, int], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often a reaction is tried, and how long it waits between tries."""

    max_attempts: int = 5
    delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1, 2, ...)."""
        return min(self.delay_seconds * 2.0 ** (attempt - 1), self.max_delay_seconds)


async def handle(subscription: Subscription, message: Message) -> None:
    """One attempt of one reaction on one message, in a consumer span of the message's
    trace; a failure is counted and raised.  Every transport calls this, never the
    handler directly."""
    with consuming(subscription, message):
        try:
            await subscription.handler(message)
        except Exception:
            FAILURES.labels(subscription.name).inc()
            raise


def dead_lettered(subscription: Subscription) -> None:
    """Count a message `subscription` gave up on; each transport calls it when it buries one."""
    DEAD_LETTERS.labels(subscription.name).inc()


def describe(error: BaseException) -> str:
    """The error as a dead letter records it: its type and message."""
    return f"{type(error).__name__}: {error}"


async def deliver(
    subscription: Subscription,
    message: Message,
    *,
    policy: RetryPolicy,
    dead_letter: DeadLetter,
) -> None:
    """Run the reaction; after `policy.max_attempts` failures dead-letter the message."""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            await handle(subscription, message)
        except Exception as error:
            logger.warning(
                "%s failed on %s %s (attempt %d of %d): %s",
                subscription.name,
                message.event_type,
                message.id,
                attempt,
                policy.max_attempts,
                describe(error),
            )
            if attempt == policy.max_attempts:
                await dead_letter(subscription, message, describe(error), attempt)
                dead_lettered(subscription)
                return
            await asyncio.sleep(policy.delay(attempt))
        else:
            return
