"""Domain events: facts an aggregate records, named in the past tense.

Use cases write them to the outbox inside their unit of work (platform/outbox.py), and
hand them to a publisher after it commits (by default that only logs them).
"""

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every domain event."""

    occurred_at: datetime


Publish = Callable[[DomainEvent], Awaitable[None]]


async def log_event(event: DomainEvent) -> None:
    """The default publisher: there is no broker, so the event is only logged."""
    logger.info("domain event %s", event)


def event_type(event: DomainEvent) -> str:
    """The name the event travels under: its class name (`OrderCreated`)."""
    return type(event).__name__


def to_payload(event: DomainEvent) -> dict[str, Any]:
    """The event's fields as JSON-ready values (UUIDs and datetimes as strings)."""
    return {
        field.name: _json_ready(getattr(event, field.name)) for field in dataclasses.fields(event)
    }


def _json_ready(value: object) -> Any:
    if isinstance(value, UUID | datetime):
        return value.isoformat() if isinstance(value, datetime) else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_json_ready(item) for item in value]
    return value
