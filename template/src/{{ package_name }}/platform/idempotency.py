"""Idempotency keys: a caller that names an unsafe request with a key can send it again
(after a timeout, a dropped connection, a crash of either side) and get the first
answer back, with the effect applied once.

- A key belongs to a principal (platform/principal.py): one caller can neither replay
  nor block another's.  The row is `(principal, key)` in the `idempotency_keys`
  table, with a fingerprint of the request (sha256 of the operation and its canonical
  inputs), the stored result and when it expires (IDEMPOTENCY_KEY_TTL_SECONDS).
- The key is reserved inside the use case's own transaction (`INSERT ... ON CONFLICT
  DO NOTHING`), and the result is stored in that same transaction: the key, the change
  and its outbox events commit together or not at all.  No lock lives in a process, so
  this holds across any number of replicas sharing the database.
- Concurrent requests with one key wait for the first and replay it: on PostgreSQL the
  second insert blocks on the first's uncommitted row, then finds it committed and
  returns its stored result (or, if the first rolled back, goes ahead itself); on
  SQLite writes are serial anyway.  No 409: every caller gets the same answer.
- What is replayed is the use case's result (a JSON snapshot, `Snapshot`), not the
  HTTP response: each adapter renders it as it did the first time, so REST returns the
  same status, body, ETag and Location, GraphQL the same object, gRPC the same message.
  A create replays the state as created, whatever happened to the aggregate since.
- Only a success is stored: a use case that raises rolls the reservation back with
  everything else, and the key may be sent again.
- The same key with another request raises IdempotencyKeyReused (REST 422, gRPC
  FAILED_PRECONDITION, GraphQL BAD_USER_INPUT): the caller must use a new key.
- An expired row is deleted when its key comes back, and the key starts afresh;
  `purge_expired` deletes the others: `purge_periodically` runs it in every process
  with the relay role (main.py), once an hour.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, utcnow
from .db import Database, IdempotencyKeyRow, Work
from .errors import FieldError, IdempotencyKeyReused, ValidationFailed
from .principal import Principal

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_KEY_LENGTH = 255
# Printable ASCII: what fits in an HTTP header, gRPC metadata and a log line unescaped.
KEY_PATTERN = r"^[\x20-\x7e]+$"
HEADER = "Idempotency-Key"
METADATA_KEY = "idempotency-key"


@dataclass(frozen=True)
class IdempotencyKey:
    """A request named by a caller's key; `fingerprint` tells a retry from a misuse."""

    principal: str
    key: str
    fingerprint: str
    ttl: timedelta


def requested(
    principal: Principal,
    key: str | None,
    operation: str,
    inputs: object,
    *,
    ttl_seconds: int,
    loc: tuple[str | int, ...] = (METADATA_KEY,),
) -> IdempotencyKey | None:
    """The key a caller sent with `operation` on `inputs` (None if it sent none).

    `inputs` is everything that decides the outcome (ids, preconditions, the parsed
    body), in any form pydantic can turn into JSON; ValidationFailed at `loc` if the
    key is empty, too long or not printable ASCII.
    """
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        msg = f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        raise ValidationFailed([FieldError(loc, msg, "idempotency_key")])
    canonical = json.dumps(
        [operation, to_jsonable_python(inputs)], sort_keys=True, separators=(",", ":")
    )
    return IdempotencyKey(
        principal=principal.id,
        key=key,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        ttl=timedelta(seconds=ttl_seconds),
    )


class Snapshot(Generic[T]):
    """How one use case's result is stored as JSON and read back.

    Generic over dataclasses through a pydantic TypeAdapter; `exclude` leaves out what
    is not state (an aggregate's pending events, which the first run published).
    """

    def __init__(self, kind: type[T], *, exclude: Collection[str] = ()) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(kind)
        self._exclude = set(exclude) or None

    def dump(self, value: T) -> Any:
        return self._adapter.dump_python(value, mode="json", exclude=self._exclude)

    def load(self, stored: Any) -> T:
        return self._adapter.validate_python(stored)


def once(
    work: Work[T],
    key: IdempotencyKey | None,
    snapshot: Snapshot[T],
    *,
    clock: Clock = utcnow,
) -> Work[T]:
    """`work` guarded by `key`, for `Database.run`: the first time it runs and its result
    is stored beside its effect; after that the stored result comes back instead."""
    if key is None:
        return work

    async def guarded(session: AsyncSession) -> T:
        stored = await _reserve(session, key, now=clock())
        if stored is not None:
            return snapshot.load(stored["result"])
        result = await work(session)
        await session.execute(
            update(IdempotencyKeyRow)
            .where(_is(key))
            .values(response={"result": snapshot.dump(result)})
        )
        return result

    return guarded


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the keys past their expiry; returns how many.  Nothing depends on it
    running (an expired key is also dropped when it comes back); it keeps the table
    small.  Call it now and then, in its own unit of work."""
    result = await session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_periodically(
    database: Database, *, interval_seconds: float = 3600.0, clock: Clock = utcnow
) -> None:
    """`purge_expired` now, then every `interval_seconds`, until cancelled; a failed purge
    is logged and tried again next time."""
    while True:
        try:
            async with database.unit_of_work(write=True) as session:
                purged = await purge_expired(session, clock())
            logger.debug("purged %d expired idempotency keys", purged)
        except Exception:
            logger.exception("purging expired idempotency keys failed")
        await asyncio.sleep(interval_seconds)


async def _reserve(
    session: AsyncSession, key: IdempotencyKey, *, now: datetime
) -> dict[str, Any] | None:
    """Take `key` in this transaction: None if it is ours now, else the stored response
    (`{"result": ...}`) of the request that took it, after waiting for it to commit."""
    await session.execute(
        delete(IdempotencyKeyRow).where(_is(key), IdempotencyKeyRow.expires_at <= now)
    )
    insert = _insert(session)(IdempotencyKeyRow).values(
        principal=key.principal,
        key=key.key,
        fingerprint=key.fingerprint,
        response=None,
        created_at=now,
        expires_at=now + key.ttl,
    )
    # Blocks (PostgreSQL) while another transaction holds the key uncommitted.
    inserted = await session.scalar(
        insert.on_conflict_do_nothing(
            index_elements=[IdempotencyKeyRow.principal, IdempotencyKeyRow.key]
        ).returning(IdempotencyKeyRow.key)
    )
    if inserted is not None:
        return None
    row = (await session.execute(select(IdempotencyKeyRow).where(_is(key)))).scalar_one()
    if row.fingerprint != key.fingerprint:
        msg = f"{HEADER} {key.key!r} was used for a different request; send a new key"
        raise IdempotencyKeyReused(msg)
    if row.response is None:  # pragma: no cover - stored in the transaction that inserted it
        msg = f"{HEADER} {key.key!r} has no stored response"
        raise RuntimeError(msg)
    return row.response


def _is(key: IdempotencyKey) -> ColumnElement[bool]:
    return and_(IdempotencyKeyRow.principal == key.principal, IdempotencyKeyRow.key == key.key)


def _insert(session: AsyncSession) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT (both spell it the same)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
