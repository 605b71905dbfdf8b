"""Bounded attempts for a reaction, then a dead letter.

The in-process bus and the Kafka transport retry a failing reaction here, in process,
with exponential backoff; after `max_attempts` the message goes to the transport's
dead-letter store with the error, so one poison message never blocks the ones behind
it.  (RabbitMQ counts the attempts itself: platform/rabbitmq.py.)
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .messages import Message, Subscription

logger = logging.getLogger(__name__)

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
            await subscription.handler(message)
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
                return
            await asyncio.sleep(policy.delay(attempt))
        else:
            return
