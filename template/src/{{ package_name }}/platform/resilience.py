"""Outgoing calls go through one policy per dependency, an ordered chain:

    bulkhead -> circuit breaker -> retry -> timeout -> the call

- The bulkhead is outermost: a call that finds no free slot within its short wait is
  refused at once (`BulkheadFull`) and costs nothing further; excess is never queued
  without limit.
- The breaker comes next: while it is open, calls fail fast (`CircuitOpen`) without
  touching the dependency and without retrying.  A whole retried call counts as one
  outcome in its failure-rate window.
- Retries (tenacity) use exponential backoff with full jitter, on transient errors only,
  bounded in attempts and by the call's deadline.  A call that is not idempotent is
  retried only where the request cannot have been sent (the caller says which).
- The timeout is innermost, per attempt, and never runs past the deadline.

A deadline is the time by which the whole piece of work must be done: an inbound request
sets it from its caller's budget (platform/deadlines.py), and every outgoing call
shortens its timeouts to what is left and hands the rest downstream.

Every part is switched and sized by settings (CALL_*, RETRY_*, BREAKER_*, BULKHEAD_*),
so a deployment tunes it without re-generating anything.

The circuit breaker is our own: the maintained asyncio breakers count consecutive
failures (purgatory, pybreaker, whose asyncio support goes through Tornado) or are no
longer maintained (aiobreaker); a failure-rate window with a single half-open probe is
the behaviour we want, and it is small.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import ParamSpec, Self, TypeVar

from prometheus_client import Gauge
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from ..settings import Settings

T = TypeVar("T")
P = ParamSpec("P")

# Absolute time.monotonic() by which the current piece of work must be done; None: none.
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


class DependencyUnavailable(Exception):
    """The dependency can't be used now; the caller may try again later."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency}: {detail}")
        self.dependency = dependency


class BulkheadFull(DependencyUnavailable):
    """Every slot of the dependency's bulkhead stayed busy for the bounded wait."""


class CircuitOpen(DependencyUnavailable):
    """The dependency's breaker is open: the call was not attempted."""


class CallTimedOut(DependencyUnavailable, TimeoutError):
    """An attempt ran out of its timeout, or the call out of its deadline."""


# --- deadlines ---------------------------------------------------------------------


def remaining() -> float | None:
    """Seconds left until the current deadline (never negative); None without one."""
    deadline = _deadline.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


@contextmanager
def deadline_in(seconds: float | None) -> Iterator[None]:
    """Within the block, the deadline is `seconds` away, or the enclosing one if sooner."""
    if seconds is None:
        yield
        return
    candidate = time.monotonic() + max(seconds, 0.0)
    current = _deadline.get()
    token = _deadline.set(candidate if current is None else min(current, candidate))
    try:
        yield
    finally:
        _deadline.reset(token)


# --- bulkhead ----------------------------------------------------------------------


class Bulkhead:
    """At most `max_concurrent` calls at once; a call waits `max_wait_seconds` for a slot."""

    def __init__(self, dependency: str, *, max_concurrent: int, max_wait_seconds: float) -> None:
        self.dependency = dependency
        self.max_concurrent = max_concurrent
        self._max_wait = max_wait_seconds
        self._slots = asyncio.Semaphore(max_concurrent)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._max_wait):
                await self._slots.acquire()
        except TimeoutError:
            detail = f"all {self.max_concurrent} slots busy for {self._max_wait:g} s"
            raise BulkheadFull(self.dependency, detail) from None
        try:
            yield
        finally:
            self._slots.release()


# --- circuit breaker ---------------------------------------------------------------


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "State of each dependency's circuit breaker: 0 closed, 1 half-open, 2 open",
    ["dependency"],
)
_GAUGE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class CircuitBreaker:
    """Closed, open, half-open, over a window of the last `window` call outcomes.

    Closed: calls pass; once the window holds `minimum_calls` and at least
    `failure_rate` of them failed, it opens.  Open: calls fail fast for
    `cooldown_seconds`, then it is half-open.  Half-open: one probe call passes (others
    still fail fast); its success closes the breaker with a clean window, its failure
    opens it for another cool-down.
    """

    def __init__(
        self,
        dependency: str,
        *,
        failure_rate: float,
        window: int,
        minimum_calls: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dependency = dependency
        self._failure_rate = failure_rate
        self._minimum_calls = min(minimum_calls, window)
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: a failure
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._probing = False
        self._publish()

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def before_call(self) -> None:
        """Raise CircuitOpen unless the call may go through (the half-open probe may)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        left = max(self._cooldown - (self._clock() - self._opened_at), 0.0)
        detail = (
            "circuit open, probing"
            if state is BreakerState.HALF_OPEN
            else f"circuit open for {left:.1f} s more"
        )
        raise CircuitOpen(self.dependency, detail)

    def record(self, *, failed: bool) -> None:
        """Count the outcome of a call `before_call` let through."""
        if self._state is BreakerState.HALF_OPEN:
            self._probing = False
            if failed:
                self._open()
            else:
                self._outcomes.clear()
                self._move(BreakerState.CLOSED)
            return
        self._outcomes.append(failed)
        failures = sum(self._outcomes)
        if (
            self._state is BreakerState.CLOSED
            and len(self._outcomes) >= self._minimum_calls
            and failures >= self._failure_rate * len(self._outcomes)
        ):
            self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._outcomes.clear()
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self._publish()

    def _publish(self) -> None:
        BREAKER_STATE.labels(dependency=self.dependency).set(_GAUGE_VALUE[self._state])


# --- the policy --------------------------------------------------------------------


def is_transient(error: BaseException) -> bool:
    """The default test of whether trying again may help: timeouts and lost connections."""
    return isinstance(
        error, TimeoutError | ConnectionError | DependencyUnavailable
    ) and not isinstance(error, CircuitOpen | BulkheadFull)


@dataclass(frozen=True)
class BreakerConfig:
    """The sizes of a circuit breaker (see CircuitBreaker)."""

    failure_rate: float
    window: int
    minimum_calls: int
    cooldown_seconds: float


@dataclass(frozen=True)
class PolicyConfig:
    """The sizes of a policy; `None` switches a part off."""

    timeout_seconds: float
    deadline_seconds: float
    retry_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float
    breaker: BreakerConfig | None
    bulkhead: tuple[int, float] | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            timeout_seconds=settings.call_timeout_seconds,
            deadline_seconds=settings.call_deadline_seconds,
            retry_attempts=settings.retry_attempts if settings.retry_enabled else 1,
            backoff_seconds=settings.retry_backoff_seconds,
            backoff_max_seconds=settings.retry_backoff_max_seconds,
            breaker=(
                BreakerConfig(
                    failure_rate=settings.breaker_failure_rate,
                    window=settings.breaker_window,
                    minimum_calls=settings.breaker_minimum_calls,
                    cooldown_seconds=settings.breaker_cooldown_seconds,
                )
                if settings.breaker_enabled
                else None
            ),
            bulkhead=(
                (settings.bulkhead_max_concurrent, settings.bulkhead_max_wait_seconds)
                if settings.bulkhead_enabled
                else None
            ),
        )


class Policy:
    """The chain for one dependency; `call` runs a coroutine function through it."""

    def __init__(
        self,
        dependency: str,
        config: PolicyConfig,
        *,
        transient: Callable[[BaseException], bool] = is_transient,
    ) -> None:
        self.dependency = dependency
        self.config = config
        self.transient = transient
        self.bulkhead = (
            None
            if config.bulkhead is None
            else Bulkhead(
                dependency, max_concurrent=config.bulkhead[0], max_wait_seconds=config.bulkhead[1]
            )
        )
        self.breaker = (
            None
            if config.breaker is None
            else CircuitBreaker(
                dependency,
                failure_rate=config.breaker.failure_rate,
                window=config.breaker.window,
                minimum_calls=config.breaker.minimum_calls,
                cooldown_seconds=config.breaker.cooldown_seconds,
            )
        )

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run `attempt` through the chain.  `retry_if` narrows which errors are retried
        (a non-idempotent call passes "only if the request was not sent")."""
        with deadline_in(self.config.deadline_seconds):
            if self.bulkhead is None:
                return await self._guarded(attempt, retry_if)
            async with self.bulkhead.slot():
                return await self._guarded(attempt, retry_if)

    def wrap(self, function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """`function` with every call going through the chain."""

        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(lambda: function(*args, **kwargs))

        return guarded

    async def _guarded(
        self,
        attempt: Callable[[], Awaitable[T]],
        retry_if: Callable[[BaseException], bool] | None,
    ) -> T:
        if self.breaker is None:
            return await self._retried(attempt, retry_if)
        self.breaker.before_call()
        try:
            result = await self._retried(attempt, retry_if)
        except BaseException as error:
            # Only the dependency's own failures count against it: a 4xx or a
            # validation error says nothing about its health.
            self.breaker.record(failed=self.transient(error))
            raise
        self.breaker.record(failed=False)
        return result

    async def _retried(
        self,
        attempt: Callable[[], Awaitable[T]],
        retry_if: Callable[[BaseException], bool] | None,
    ) -> T:
        config = self.config
        budget = remaining()

        def retryable(error: BaseException) -> bool:
            return self.transient(error) and (retry_if is None or retry_if(error))

        retrying = AsyncRetrying(
            stop=stop_after_attempt(config.retry_attempts)
            | stop_before_delay(budget if budget is not None else float("inf")),
            wait=wait_random_exponential(
                multiplier=config.backoff_seconds, max=config.backoff_max_seconds
            ),
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        async for attempt_state in retrying:
            with attempt_state:
                return await self._timed(attempt)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def attempt_timeout(self) -> float:
        """This attempt's timeout: the policy's, shortened to what the deadline leaves."""
        left = remaining()
        return (
            self.config.timeout_seconds if left is None else min(self.config.timeout_seconds, left)
        )

    async def _timed(self, attempt: Callable[[], Awaitable[T]]) -> T:
        seconds = self.attempt_timeout()
        if seconds <= 0:
            raise CallTimedOut(self.dependency, "no time left before the deadline")
        try:
            async with asyncio.timeout(seconds):
                return await attempt()
        except TimeoutError as error:
            if isinstance(error, DependencyUnavailable):
                raise
            raise CallTimedOut(self.dependency, f"no answer within {seconds:.3g} s") from error


class Resilience:
    """The policies of one process, one per dependency name, made on first use."""

    def __init__(self, settings: Settings) -> None:
        self._config = PolicyConfig.from_settings(settings)
        self._policies: dict[str, Policy] = {}

    def policy(
        self,
        dependency: str,
        *,
        transient: Callable[[BaseException], bool] = is_transient,
    ) -> Policy:
        found = self._policies.get(dependency)
        if found is None:
            found = self._policies[dependency] = Policy(
                dependency, self._config, transient=transient
            )
        return found

    def breaker_states(self) -> dict[str, str]:
        """Each dependency's breaker state, for /readyz."""
        return {
            name: str(policy.breaker.state)
            for name, policy in sorted(self._policies.items())
            if policy.breaker is not None
        }
