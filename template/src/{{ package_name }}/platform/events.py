"""Domain events: facts an aggregate records, named in the past tense.

Use cases hand them to a publisher after their unit of work commits.  With no broker
configured the publisher only logs; an outbox would hook in at the same place.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every domain event."""

    occurred_at: datetime


Publish = Callable[[DomainEvent], Awaitable[None]]


async def log_event(event: DomainEvent) -> None:
    """The default publisher: there is no broker, so the event is only logged."""
    logger.info("domain event %s", event)
