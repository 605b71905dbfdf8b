"""Load shedding: above MAX_IN_FLIGHT_REQUESTS, new calls are refused at once.

A refused call costs the server next to nothing and the client learns it should come
back (503 with Retry-After, gRPC UNAVAILABLE) instead of waiting in a queue until its own
timeout.  One gate counts the calls of every protocol the process serves, because they
share its CPU, its event loop and its database pool.
"""

from prometheus_client import Counter

SHED = Counter("shed_requests_total", "Calls refused because too many were in flight", ["protocol"])

# What a refused caller is told to wait: the calls in flight finish in about that time.
RETRY_AFTER_SECONDS = 1


class InFlightGate:
    """Counts the calls being served; `try_enter` refuses once `limit` are.

    Only the event loop's thread touches it, so a plain counter is enough.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1
