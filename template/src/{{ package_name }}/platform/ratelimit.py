"""Per-caller rate limits (RATE_LIMIT), counted in memory or, with REDIS_URL, in Redis.

In memory each process counts on its own; in Redis every replica counts against the same
budget.  The strategy is the sliding window counter: two counters per caller and limit
(this window's and the last one's, weighted by how much of it still overlaps), so the
state is constant per caller whatever the limit, each check is one short Lua script in
Redis, and a caller can't double its burst at a window's edge as with fixed windows.  The
moving window would be exact, but it keeps one timestamp per call (a list of 1000 per
caller for 1000/minute).

The limiter is a protection, not a dependency: while Redis does not answer, calls go
through unlimited (fail open), a warning is logged (once a minute, not per call) and
`healthy()` says False so /readyz can report it.
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Self

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..settings import Settings

logger = logging.getLogger(__name__)

REJECTIONS = Counter(
    "rate_limit_rejections_total", "Calls refused by the per-caller rate limit", ["protocol"]
)

# Redis answers in well under a millisecond; one that takes longer than this is treated
# as down rather than slowing every call.  After a failure the limiter does not try
# Redis again for BACKOFF_SECONDS, so an outage costs one slow call a second, not all.
STORAGE_TIMEOUT_SECONDS = 0.25
CONNECT_TIMEOUT_SECONDS = 2.0  # at startup only: see RateLimiter.connect
BACKOFF_SECONDS = 1.0
WARN_EVERY_SECONDS = 60.0
STORAGE_ERRORS = (StorageError, RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class Quota:
    """Where a caller stands after a call: what the RateLimit-* headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the window has room again
    policy: str  # e.g. "100;w=1, 1000;w=60" (every limit, for RateLimit-Policy)

    @property
    def retry_after_seconds(self) -> int:
        return max(1, self.reset_seconds)

    def headers(self) -> dict[str, str]:
        """The IETF RateLimit headers; Retry-After too when the call is refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": self.policy,
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class RateLimiter:
    """Counts each principal's calls against every limit of RATE_LIMIT."""

    def __init__(
        self,
        storage: Storage,
        limits: list[RateLimitItem],
        *,
        pool: ConnectionPool | None = None,
    ) -> None:
        self._storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._limits = limits
        self._pool = pool  # Redis's connections, which `close()` closes
        self._policy = ", ".join(f"{item.amount};w={item.get_expiry()}" for item in limits)
        self._retry_at = 0.0  # monotonic time before which Redis is not tried again
        self._warned_at: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """In Redis when REDIS_URL is set (keys prefixed by NAMESPACE), else in memory.

        Nothing connects here: the client connects on the first call.
        """
        limits = parse_many(settings.rate_limit)
        if settings.redis_url is None:
            return cls(MemoryStorage(), limits)
        # No retries inside the client: a call Redis can't answer at once goes through.
        pool = ConnectionPool.from_url(
            settings.redis_url,
            socket_timeout=STORAGE_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), retries=0),
        )
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=f"{settings.namespace}:ratelimit",
            connection_pool=pool,  # type: ignore[arg-type]  # annotated narrower than it takes
        )
        return cls(storage, limits, pool=pool)

    async def connect(self) -> None:
        """Open a connection to Redis before the first call counts: making one (and the
        handshake) may not fit in a call's STORAGE_TIMEOUT_SECONDS on a busy host, and
        that call would then go through unlimited.  Redis away: logged, calls go through."""
        if self._pool is None:
            return
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                await self._storage.check()
        except STORAGE_ERRORS as exc:
            self._failed(exc)

    async def hit(self, principal: str) -> Quota | None:
        """Count one call of `principal`; None when the count is unknown (Redis is down)."""
        if time.monotonic() < self._retry_at:
            return None
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_SECONDS):
                quota = await self._hit(principal)
        except STORAGE_ERRORS as exc:
            self._failed(exc)
            return None
        if self._warned_at is not None:
            self._warned_at = None
            logger.warning("rate limits: Redis answers again; limits apply again")
        return quota

    async def healthy(self) -> bool | None:
        """None in memory (nothing to be down); else whether Redis answers."""
        if self._pool is None:
            return None
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_SECONDS):
                return await self._storage.check()
        except STORAGE_ERRORS:
            return False

    async def close(self) -> None:
        """Close the Redis connections (in memory: stop the expiry task)."""
        if self._pool is not None:
            await self._pool.aclose()
        elif isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            self._storage.timer.cancel()

    async def _hit(self, principal: str) -> Quota:
        # Every limit counts the call until one refuses it; the headers describe the limit
        # closest to running out (the refusing one, if any).
        quotas: list[Quota] = []
        for item in self._limits:
            allowed = await self._strategy.hit(item, principal)
            stats = await self._strategy.get_window_stats(item, principal)
            quota = Quota(
                allowed=allowed,
                limit=item.amount,
                remaining=stats.remaining,
                reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
                policy=self._policy,
            )
            if not allowed:
                return quota
            quotas.append(quota)
        return min(quotas, key=lambda q: (q.remaining, -q.reset_seconds))

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + BACKOFF_SECONDS
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("rate limits: Redis does not answer, calls are not limited: %r", exc)
