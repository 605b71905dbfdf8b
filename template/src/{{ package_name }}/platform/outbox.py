"""The transactional outbox: events are written beside the aggregate change, and the
relay publishes them afterwards.

- `record_events` adds the events to the `outbox` table in the caller's unit of work:
  they commit with the change or not at all.
- `OutboxRelay` publishes pending rows oldest first, each aggregate's events in
  `sequence` order; a row is marked sent only after the publisher returned (the bus
  handled it, or the broker confirmed it), and a pass marks its rows in one
  transaction.  A failure leaves the row pending, counts the attempt, and holds back
  that aggregate's later events (so they never overtake it) until a backoff has
  passed.  At-least-once: a crash between publishing and marking sends the event again;
  consumers dedupe with the inbox.
- One relay at a time: on PostgreSQL a pass holds an advisory lock (`SKIP LOCKED` would
  let two relays interleave one aggregate's events); SQLite is one process anyway.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

from prometheus_client import Gauge
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, utcnow
from .db import Database, OutboxRow
from .events import DomainEvent, event_type, to_payload
from .messages import Message, Publisher, TransportUnavailable
from .resilience import DependencyUnavailable
from .tracecontext import current_trace_context, publishing

logger = logging.getLogger(__name__)

PENDING = Gauge("outbox_pending_events", "Events in the outbox not yet published")
OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds",
    "Age of the oldest event not yet published (0 when none is waiting)",
)

# The advisory lock's key.  PostgreSQL scopes advisory locks to a database, so services
# sharing a server never contend for it.
RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox"

AggregateKey = tuple[str, UUID]


def record_events(
    session: AsyncSession,
    aggregate_type: str,
    aggregate_id: UUID,
    events: Iterable[DomainEvent],
) -> None:
    """Add `events` to the outbox in the unit of work `session` belongs to, with the
    trace context they were recorded in."""
    trace_context = current_trace_context()
    session.add_all(
        OutboxRow(
            id=uuid4(),
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            event_type=event_type(event),
            payload=to_payload(event),
            occurred_at=event.occurred_at,
            trace_context=trace_context,
            attempts=0,
        )
        for event in events
    )


class OutboxRelay:
    """Moves pending outbox rows to a publisher; `run` loops, `run_once` is one pass."""

    def __init__(
        self,
        database: Database,
        publish: Publisher,
        *,
        batch_size: int = 100,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._publish = publish
        self._batch_size = batch_size
        self._backoff_seconds = backoff_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._failures: dict[AggregateKey, int] = {}
        self._retry_at: dict[AggregateKey, float] = {}
        self._stopping = asyncio.Event()

    async def run(self, interval_seconds: float) -> None:
        """Pass after pass until `stop()`; a pass that fails is logged and retried."""
        while not self._stopping.is_set():
            sent = 0
            try:
                sent = await self.run_once()
            except Exception:
                # The database may be away for a moment; the next pass tries again.
                logger.exception("outbox relay pass failed")
            if sent >= self._batch_size:
                continue  # a full batch: there is likely more waiting, so no pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval_seconds)

    def stop(self) -> None:
        """Ask `run` to return after the pass in progress."""
        self._stopping.set()

    async def run_once(self) -> int:
        """One pass over the pending rows; returns how many were sent."""
        async with self._exclusive() as ours:
            if not ours:
                logger.debug("another relay holds the outbox lock")
                return 0
            sent = await self._relay_pending()
            await self._measure_backlog()
            return sent

    async def _measure_backlog(self) -> None:
        """The outbox's size and the age of its oldest pending event, as metrics: the
        signal that events are not leaving (the broker is away, or the relay is slow)."""
        async with self._database.unit_of_work() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxRow.occurred_at)).where(
                        OutboxRow.sent_at.is_(None)
                    )
                )
            ).one()
        PENDING.set(count)
        age = 0.0
        if oldest is not None:
            # SQLite's MIN() hands back text, not the column type: read it as the column does.
            occurred = oldest if isinstance(oldest, datetime) else datetime.fromisoformat(oldest)
            occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
            age = max((self._clock() - occurred).total_seconds(), 0.0)
        OLDEST_AGE.set(age)

    async def _relay_pending(self) -> int:
        now = self._monotonic()
        # Aggregates still backing off are left out of the query, so a batch is never
        # filled with events that must wait while others could go.
        waiting = {key for key, retry_at in self._retry_at.items() if retry_at > now}
        query = select(OutboxRow).where(OutboxRow.sent_at.is_(None))
        if waiting:
            query = query.where(OutboxRow.aggregate_id.not_in({key[1] for key in waiting}))
        async with self._database.unit_of_work() as session:
            rows = list(
                await session.scalars(query.order_by(OutboxRow.sequence).limit(self._batch_size))
            )
        held: set[AggregateKey] = set()
        sent: list[int] = []
        try:
            for row in rows:
                key = (row.aggregate_type, row.aggregate_id)
                if key in held or key in waiting:
                    held.add(key)  # later events of this aggregate wait their turn
                    continue
                try:
                    with publishing(_message(row)) as message:
                        await self._publish(message)
                except (TransportUnavailable, DependencyUnavailable) as error:
                    # Down, breaker open, or too slow: the broker's state, not the event's.
                    logger.warning("the broker is unavailable (%s); the outbox keeps them", error)
                    break
                except Exception:
                    logger.exception("publishing %s %s failed", row.event_type, row.id)
                    held.add(key)
                    self._back_off(key)
                    await self._count_attempt(row.sequence)
                    continue
                self._failures.pop(key, None)
                self._retry_at.pop(key, None)
                sent.append(row.sequence)
        finally:
            # One transaction for the pass, not one per event: a crash before it sends
            # the pass's events again (at-least-once; the inbox absorbs them).
            await self._mark_sent(sent)
        return len(sent)

    def _back_off(self, key: AggregateKey) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = min(self._backoff_seconds * 2 ** (failures - 1), self._max_backoff_seconds)
        self._retry_at[key] = self._monotonic() + delay

    async def _mark_sent(self, sequences: list[int]) -> None:
        if not sequences:
            return
        async with self._database.unit_of_work(write=True) as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.sequence.in_(sequences))
                .values(sent_at=self._clock(), attempts=OutboxRow.attempts + 1)
            )

    async def _count_attempt(self, sequence: int) -> None:
        async with self._database.unit_of_work(write=True) as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.sequence == sequence)
                .values(attempts=OutboxRow.attempts + 1)
            )

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[bool]:
        """True while this relay is the only one (PostgreSQL: a session advisory lock)."""
        if self._database.engine.dialect.name != "postgresql":
            yield True
            return
        async with self._database.engine.connect() as connection:
            ours = bool(await connection.scalar(select(func.pg_try_advisory_lock(RELAY_LOCK_KEY))))
            await connection.commit()
            try:
                yield ours
            finally:
                if ours:
                    await connection.scalar(select(func.pg_advisory_unlock(RELAY_LOCK_KEY)))
                    await connection.commit()


def _message(row: OutboxRow) -> Message:
    return Message(
        id=row.id,
        event_type=row.event_type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        payload=row.payload,
        occurred_at=row.occurred_at,
        trace_context=row.trace_context,
    )
