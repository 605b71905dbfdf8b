"""Idempotent consumers: a handled event is recorded in the `inbox` table, in the same
transaction as the handler's own writes, so a redelivered event has one effect."""

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, utcnow
from .db import Database, InboxRow
from .messages import Handler, Message

logger = logging.getLogger(__name__)

# What a consumer implements: its writes go through `session`, which commits them
# together with the inbox row (or rolls both back).
ConsumerHandler = Callable[[AsyncSession, Message], Awaitable[None]]


def idempotent(
    database: Database,
    consumer: str,
    handler: ConsumerHandler,
    *,
    clock: Clock = utcnow,
) -> Handler:
    """A message handler that runs `handler` at most once per (consumer, event id)."""

    async def handle(message: Message) -> None:
        # A write transaction from the start: on SQLite BEGIN IMMEDIATE serialises two
        # deliveries of one event; on PostgreSQL the primary key rejects the second
        # insert, the transaction rolls back, and the redelivery finds the row.
        async with database.unit_of_work(write=True) as session:
            if await session.get(InboxRow, (consumer, message.id)) is not None:
                logger.info("%s already handled %s %s", consumer, message.event_type, message.id)
                return
            await handler(session, message)
            session.add(InboxRow(consumer=consumer, event_id=message.id, processed_at=clock()))

    return handle
