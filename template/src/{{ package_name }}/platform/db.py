"""The database: the shared MetaData, one async engine per process, units of work, and
the platform's own tables (the outbox, inbox and dead letters of messaging, the
idempotency keys of the APIs).

SQLite by default (a file, no infrastructure), PostgreSQL when DATABASE_URL says so.
The schema is owned by Alembic (migrations/); nothing here creates tables.

`Database.run` is how use cases touch the database: one transaction, retried whole
when the database failed it for a reason that goes away (see `is_transient`).
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
    event,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Stable constraint names, so migrations written today still match the models tomorrow
# and `alembic check` compares like with like on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# An execution option on the write engine: the SQLite "begin" hook reads it to take the
# write lock up front (BEGIN IMMEDIATE) instead of failing later on lock upgrade.
_WRITE = "unit_of_work_writes"


class Base(DeclarativeBase):
    """Base of every domain's ORM rows; they all share one MetaData."""

    metadata = metadata


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetimes are ambiguous; use an aware UTC datetime"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        # SQLite stores text; dropping the offset keeps one sortable format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OutboxRow(Base):
    """A domain event waiting for the relay (platform/outbox.py).

    Written by the use case's unit of work beside the aggregate change, so the change
    and its events commit, or roll back, together.  `sequence` orders the events; the
    relay publishes each aggregate's events in that order.
    """

    __tablename__ = "outbox"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    aggregate_type: Mapped[str] = mapped_column(String(100))
    aggregate_id: Mapped[UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The W3C trace context the event was recorded in (platform/tracecontext.py), handed
    # on in the broker message's headers; None outside a trace.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # The relay's query: pending rows in sequence order.
        Index("ix_outbox_sent_at_sequence", "sent_at", "sequence"),
    )


class InboxRow(Base):
    """One event one consumer has handled: written in the handler's own transaction, so a
    redelivered event is recognised and has one effect (platform/inbox.py)."""

    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeadLetterRow(Base):
    """An event a reaction gave up on after its bounded attempts, with the last error: the
    in-process bus's dead-letter queue (a broker keeps its own).  Replay one by handing
    it to the reaction again, then delete the row."""

    __tablename__ = "dead_letters"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    aggregate_type: Mapped[str] = mapped_column(String(100))
    aggregate_id: Mapped[UUID] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    dead_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyKeyRow(Base):
    """A request an API caller named with an idempotency key, and the result it got
    (platform/idempotency.py).  Reserved in the use case's own transaction, so the key
    and the effect it guards commit, or roll back, together."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # sha256 of the operation and its canonical request: the same key on another
    # request is the caller's mistake, not a retry.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # {"result": <JSON snapshot>}, written before the transaction commits; never seen
    # as None by another transaction.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # The purge's query: rows past their expiry.
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )


Work = Callable[[AsyncSession], Awaitable[T]]

# SQLSTATEs after which the same transaction, run again, may well succeed: serialization
# failure and deadlock (PostgreSQL rolled us back to let another transaction through),
# and the server going away (admin shutdown, crash, `pg_terminate_backend`).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})


def is_transient(error: BaseException) -> bool:
    """Whether the database failed a unit of work for a reason that may go away: a lost
    connection, a serialization failure or deadlock, SQLite's busy timeout.  Never a
    constraint violation or a domain error: those fail the same way every time."""
    if not isinstance(error, DBAPIError) or isinstance(error, IntegrityError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate in _TRANSIENT_SQLSTATES or sqlstate[:2] == "08"):
        return True  # class 08: connection exceptions
    return "database is locked" in str(error.orig)


class Database:
    """The engine plus the two session factories: reads and writes."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        sqlite_busy_timeout_ms: int = 5000,
        retry_attempts: int = 3,
        retry_backoff_seconds: float = 0.05,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout_seconds: float = 2.0,
    ) -> None:
        # The pool is the database's bulkhead: at most pool_size + max_overflow
        # connections, and a unit of work that finds none within the timeout fails fast
        # (503) instead of queueing.  SQLite is one file with one writer: its default pool.
        sized: dict[str, Any] = {}
        if make_url(url).get_backend_name() != "sqlite":
            sized = {
                "pool_size": pool_size,
                "max_overflow": max_overflow,
                "pool_timeout": pool_timeout_seconds,
            }
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, pool_pre_ping=True, **sized)
        self.retry_attempts = retry_attempts
        self._retry_backoff_seconds = retry_backoff_seconds
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writes = async_sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block ends, rolls back if it raises."""
        sessions = self._writes if write else self._reads
        async with sessions() as session, session.begin():
            yield session

    async def run(self, work: Work[T], *, write: bool = False) -> T:
        """`work(session)` in one unit of work, run again from the start (new session,
        new transaction) while it fails with a transient error, `retry_attempts` tries
        at most, with exponential backoff and full jitter between them.

        `work` must be safe to run again: everything it changes goes through the
        session, which rolled back.  An aggregate built before `run` keeps its id, so a
        commit whose answer was lost and that did happen fails the retry with an
        IntegrityError rather than writing twice.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_random_exponential(multiplier=self._retry_backoff_seconds, max=2.0),
            retry=retry_if_exception(is_transient),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with self.unit_of_work(write=write) as session:
                    return await work(session)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning("unit of work attempt %d failed, retrying: %s", state.attempt_number, error)


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """SQLAlchemy's documented recipe: take BEGIN away from the sqlite3 driver and emit it
    ourselves, so transactions (and DDL) behave; WAL lets readers run beside a writer."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
