"""Time, in one place, so use cases can be given a fixed clock in tests."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (naive datetimes never enter the domain)."""
    return datetime.now(UTC)
