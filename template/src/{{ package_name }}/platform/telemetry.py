"""OpenTelemetry tracing, set up in one place and configured by the standard `OTEL_*`
environment variables only.

The SDK is set up in code (no `opentelemetry-instrument` wrapper, which would patch
every library it finds), but it reads what the specification says it reads:

- `OTEL_SDK_DISABLED=true`: nothing is set up and the API stays a no-op; the service's
  own tracing middleware is left out too (platform/tracing.py).
- `OTEL_TRACES_EXPORTER`: `none` (the default here: a laptop has no collector),
  `console` (spans on stdout), `otlp` (OTLP over HTTP/protobuf, what production sets),
  or a comma-separated list of them.
- `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._HEADERS`,
  `..._TIMEOUT`, `..._COMPRESSION`: read by the OTLP exporter itself.
  `OTEL_EXPORTER_OTLP_PROTOCOL` must be `http/protobuf` (only that exporter is a
  dependency: the gRPC one would pull grpcio into every REST service).
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: read by the SDK.  Unset, the
  sampler is parent-based 10%, not the SDK's always-on: tracing every request costs
  far more than tracing one in ten (benchmarks/bench_telemetry.py in archgen measures
  it), and a caller's sampling decision is always followed.
- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` (e.g. `deployment.environment.name=
  production`): override the resource's defaults (the project's name and version,
  environment `local`).
- `OTEL_BSP_*`: the batch span processor's queue and delay, read by the SDK.

Metrics are not here: they are Prometheus' (platform/metrics.py says why).  Spans come
from our lean ASGI middleware (platform/tracing.py), the gRPC interceptor, the outbox
relay and the consumers (platform/tracecontext.py), and OpenTelemetry's instrumentations
of SQLAlchemy and httpx.
"""

import logging
import os

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import (
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATIO = 0.1
FLUSH_TIMEOUT_MILLIS = 5_000


class TelemetryConfigError(ValueError):
    """An `OTEL_*` variable holds a value this service can't honour."""


def enabled() -> bool:
    """False when `OTEL_SDK_DISABLED` says so: then nothing traces, not even our own code."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def setup(service_name: str, version: str) -> None:
    """Install the tracer provider and the database instrumentation, once per process.

    A provider someone else installed first (the tests' in-memory one, or an
    `opentelemetry-instrument` run) is kept: the process has one, and it is theirs.
    """
    if not enabled():
        return
    # Every engine created from now on gets its query spans (idempotent).
    if not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry:
        # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1 while its hooks
        # (engine events) are the same in 2.1; tests/unit/test_telemetry.py proves the spans.
        SQLAlchemyInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(build_provider(service_name, version))


def build_provider(service_name: str, version: str) -> TracerProvider:
    """A tracer provider as the `OTEL_*` variables describe it, exporting in batches."""
    provider = TracerProvider(resource=resource(service_name, version), sampler=sampler())
    for exporter in exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def flush() -> None:
    """Export every span still in memory; the lifespan calls it last on shutdown."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider) and not provider.force_flush(FLUSH_TIMEOUT_MILLIS):
        logger.warning("spans were still being exported after %d ms", FLUSH_TIMEOUT_MILLIS)


def resource(service_name: str, version: str) -> Resource:
    """Who emits the spans: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win."""
    defaults = Resource.create(
        {
            "service.name": service_name,
            "service.version": version,
            "deployment.environment.name": "local",
        }
    )
    # Resource.create lets its argument win over the environment; the environment must win.
    return defaults.merge(OTELResourceDetector().detect())


def sampler() -> Sampler | None:
    """Parent-based 10% unless OTEL_TRACES_SAMPLER names one (None: the SDK reads it)."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None  # the SDK reads OTEL_TRACES_SAMPLER and its _ARG itself
    return ParentBased(TraceIdRatioBased(DEFAULT_SAMPLE_RATIO))


def exporters() -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names (none by default)."""
    names = [
        name.strip().lower()
        for name in os.environ.get("OTEL_TRACES_EXPORTER", "none").split(",")
        if name.strip()
    ]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            exporters.append(_otlp_exporter())
        else:
            raise TelemetryConfigError(
                f"OTEL_TRACES_EXPORTER={name!r} is not supported: use none, console or otlp"
            )
    return exporters


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    )
    if protocol != "http/protobuf":
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf "
            "(a collector's port 4318)"
        )
    # Imported here: it loads requests and protobuf, which a service exporting nothing
    # has no use for.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()
