"""Calling other services over HTTP: an httpx client whose every request goes through
the dependency's resilience policy (platform/resilience.py).

    client = ServiceClient("billing", "http://billing:8000", resilience.policy(...))
    response = await client.request("POST", "/invoices", json=..., idempotency_key=key)

- Each attempt's timeout is the policy's, shortened to the caller's deadline; what is
  left of it travels downstream in `X-Request-Timeout-Ms`.
- A 5xx answer, a lost connection or a timeout is retried with backoff; a 4xx answer
  is the caller's to handle and comes back as it is (never retried, never counted
  against the breaker).
- A request that is not idempotent (POST, PATCH) is retried only with an
  `idempotency_key`, which it then carries as `Idempotency-Key` so the other side
  applies it once, or when the connection was never made (nothing was sent).
- The request id being served travels on in `X-Request-ID`.
- Each attempt is a client span (OpenTelemetry's httpx instrumentation) and carries
  `traceparent`, so the other service's spans join the caller's trace.
"""

from typing import Any

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from . import telemetry
from .deadlines import DEADLINE_HEADER
from .logs import current_request_id
from .resilience import Policy, Resilience, is_transient, remaining

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class UpstreamError(Exception):
    """The other service answered 5xx (after any retries): its last response."""

    def __init__(self, dependency: str, response: httpx.Response) -> None:
        super().__init__(f"{dependency} answered {response.status_code}")
        self.dependency = dependency
        self.response = response


def is_transient_http(error: BaseException) -> bool:
    """Trying again may help: a 5xx, a transport error (connect, read, timeout), a timeout."""
    return isinstance(error, UpstreamError | httpx.TransportError) or is_transient(error)


def _not_sent(error: BaseException) -> bool:
    """The request never left: retrying it cannot apply it twice."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def policy_for(resilience: Resilience, dependency: str) -> Policy:
    """The dependency's policy, judging failures the HTTP way."""
    return resilience.policy(dependency, transient=is_transient_http)


class ServiceClient:
    """One other service: its base URL, its policy, one connection pool."""

    def __init__(
        self,
        dependency: str,
        base_url: str,
        policy: Policy,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.dependency = dependency
        self.policy = policy
        self._client = httpx.AsyncClient(base_url=base_url, transport=transport, headers=headers)
        if telemetry.enabled():
            # A client span per attempt, whose traceparent the other service continues.
            HTTPXClientInstrumentor.instrument_client(self._client)

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send through the policy; a 4xx comes back, a 5xx that persists raises UpstreamError."""
        method = method.upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request_id = current_request_id()
        if request_id is not None:
            headers.setdefault("X-Request-ID", request_id)  # one id in both services' logs
        safe_to_repeat = method in IDEMPOTENT_METHODS or idempotency_key is not None

        async def attempt() -> httpx.Response:
            timeout = self.policy.attempt_timeout()
            left = remaining()
            if left is not None:
                headers[DEADLINE_HEADER] = str(max(int(left * 1000), 1))
            response = await self._client.request(
                method, url, headers=headers, timeout=timeout, **kwargs
            )
            if response.status_code >= 500:
                await response.aread()
                raise UpstreamError(self.dependency, response)
            return response

        return await self.policy.call(attempt, retry_if=None if safe_to_repeat else _not_sent)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()
