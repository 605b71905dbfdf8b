"""Structured logs: one event per line, JSON in production (LOG_FORMAT=json), readable
key=value lines locally (LOG_FORMAT=console, the default).

Every module keeps logging through the standard library (`logging.getLogger(__name__)`,
%-style messages); the root logger's one handler renders each record with structlog's
`ProcessorFormatter`, so our lines, uvicorn's, SQLAlchemy's and any library's look the
same.  structlog's own loggers (`structlog.get_logger()`, for key=value events) end up
in the same handler.

Each line carries `trace_id` and `span_id` of the active OpenTelemetry span (none
outside a trace) and the `request_id` of the HTTP request being served.  Secrets never
reach the output: every field and every string is scrubbed last (platform/redaction.py).

The request id comes from the caller's `X-Request-ID` when it is a sane token, otherwise
it is a new uuid4; it is echoed in the response's `X-Request-ID`.  A pure ASGI middleware,
for the reason given in platform/deadlines.py.
"""

import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

import structlog
from fastapi import FastAPI
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

from ..settings import Settings
from .redaction import scrub_fields

HANDLER_NAME = "service"
REQUEST_ID_HEADER = "x-request-id"
_HEADER_BYTES = REQUEST_ID_HEADER.encode()
# What a caller's request id may be: printable token characters, bounded, so it cannot
# forge log lines (newlines) or bloat every line of the request.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._~:/+=@-]{1,128}")
# uvicorn's loggers; `configure` takes them over from uvicorn's own logging config.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# A record's own attributes, and those other formatters (pytest's, uvicorn's) add to it:
# whatever else it has came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "color_message",
    }
)

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, None outside one."""
    return _request_id.get()


def sane_request_id(raw: bytes | str | None) -> str:
    """The caller's request id if it is a sane token, else a new one."""
    if isinstance(raw, str):
        raw = raw.encode("ascii", "replace")
    if raw is not None and _SANE_REQUEST_ID.fullmatch(raw):
        return raw.decode("ascii")
    return uuid.uuid4().hex


@contextmanager
def serving(request_id: str) -> Iterator[None]:
    """Log lines written inside carry `request_id` (HTTP middleware, gRPC interceptor)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def configure(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route all logging through one handler at LOG_LEVEL in LOG_FORMAT, writing to
    `stream` (standard error by default).  Safe to call again: it replaces its handler."""
    stamps: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = _Handler(stream)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Records from the standard library: their `extra=` fields become fields (first,
            # so they cannot pass for the level, time or ids).
            foreign_pre_chain=[_add_extra, *stamps, _add_context],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # a string, so it can be scrubbed
                _redact,
                *_rendering(settings, handler.stream),
            ],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    _take_over_library_loggers()
    # structlog's own loggers hand their events to the same handler.
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *stamps,
            _add_context,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _take_over_library_loggers() -> None:
    """Loggers that libraries give handlers of their own: their lines go to ours instead."""
    for name in _UVICORN_LOGGERS:
        # Run by the `uvicorn` command, uvicorn has configured its own handlers by now;
        # a logger without any (--no-access-log, or `python -m`) is left as it is.
        found = logging.getLogger(name)
        if found.handlers:
            found.handlers.clear()
            found.propagate = True
    # SQLAlchemy's echo adds its own stdout handler to a logger that has none: this one
    # does nothing, so echoed statements reach only ours.
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    if not engine_logger.handlers:
        engine_logger.addHandler(logging.NullHandler())


def install(app: FastAPI) -> None:
    """Give every HTTP request an id, on its log lines and in its response."""
    app.add_middleware(RequestIdMiddleware)


class RequestIdMiddleware:
    """Sets the request id for the request's log lines and echoes it to the caller."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((value for name, value in scope["headers"] if name == _HEADER_BYTES), None)
        request_id = sane_request_id(raw)
        header = (_HEADER_BYTES, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with serving(request_id):
            await self.app(scope, receive, send_with_id)


class _Handler(logging.StreamHandler[TextIO]):
    """Writes to the given stream, or to whatever `sys.stderr` is when a line is written
    (test runners swap it; a stream fixed at startup could be closed by then)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follows_stderr:
            self.stream = sys.stderr
        super().emit(record)


def _add_context(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    request_id = _request_id.get()
    if request_id is not None:
        event["request_id"] = request_id
    return event


def _add_extra(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    record: logging.LogRecord = event["_record"]
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRIBUTES:
            event[key] = value
    return event


def _redact(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    scrub_fields(event)
    return event


def _rendering(settings: Settings, stream: TextIO) -> list[Processor]:
    if settings.log_format == "json":
        # The event's text under `message`, where log shippers look for it.
        return [
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(),
        ]
    colors = stream.isatty() and "NO_COLOR" not in os.environ
    return [structlog.dev.ConsoleRenderer(colors=colors)]
