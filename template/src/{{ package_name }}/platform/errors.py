"""Errors a use case raises on purpose.  The REST adapter maps each to a problem
response (platform/problems.py); nothing here knows about HTTP."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid input: where it is, what is wrong, and a machine-readable kind."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"


class DomainError(Exception):
    """Base of the expected errors; anything else is a bug (500)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The aggregate does not exist (or no longer does)."""


class PreconditionFailed(DomainError):
    """The caller's expected version (If-Match) is not the current one."""


class ConcurrencyConflict(DomainError):
    """Someone else changed the aggregate between our read and our write."""


class IdempotencyKeyReused(DomainError):
    """The idempotency key came with a different request than the one it first named:
    a client bug (a retry sends the same request), never retried with the same key."""


class ValidationFailed(DomainError):
    """The input breaks an invariant of the domain."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = tuple(errors)
