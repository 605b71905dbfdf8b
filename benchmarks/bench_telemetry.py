"""What tracing, metrics and inbound protection cost a generated REST service.

Measured over HTTP with wrk, against baselines served in the same run (issue 6's targets).

    python benchmarks/bench_telemetry.py [--duration 10] [--connections 32] [--runs 3]
                                         [--warmup 2] [--log-level WARNING] [--profile]

It renders a REST project (one domain, `orders`, no broker) from this working tree,
installs it with uv, migrates a database of its own (PostgreSQL at 127.0.0.1:5432,
ARCHGEN_TEST_POSTGRES_URL overrides it; a SQLite file when no server answers), creates
one order through the API and then measures `GET /orders/{id}`, served the way users
serve it (`python -m bench_svc`: uvicorn, uvloop, httptools, one worker), in four
configurations:

- off:      every protection, metrics and tracing switched off by settings;
- on 10%:   everything at its defaults (the tracer samples 10% of new traces), spans
            exported over OTLP/HTTP to a sink this script runs, so export is counted;
- on 100%:  the same, every trace sampled;
- bare:     for reference, a FastAPI app that returns the same JSON from memory.

Each configuration gets a fresh server and a warm-up before every measured run, runs
interleave configurations (the order rotates) so drift hits all alike, and the figure of
each is the median over runs.  Every response must be 2xx: wrk's error counts fail the run.
Prints req/s, p50 and p99, then the ratios with issue 6's targets (on 10% / off: at least
0.85x the throughput and at most 2x the p99; on 100% / off: at least 0.6x).  A missed
target is printed as MISSED; the exit status is 0 all the same (this is a measurement).

--profile adds one run of the on-10% server sampled by py-spy (installed into the
rendered project's venv only then) and prints where its CPU time went.

Needs wrk (installed with apt-get when missing and possible).  On a machine with two or
more CPUs the server is pinned to CPU 0 and wrk (and this script) to CPU 1.
--pin-postgres also moves the local PostgreSQL server to CPU 1 for the run (and back),
so the server has its CPU to itself: runs then vary far less (here, 8% instead of 30%).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from generated import render_and_install  # this folder: scripts run as `python benchmarks/...`

POSTGRES_URL = os.environ.get(
    "ARCHGEN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
PROJECT_NAME = "bench-svc"
PACKAGE = "bench_svc"
HOST = "127.0.0.1"

# What "off" switches off.  The rest of the environment is the same in every configuration
# of the service, so these switches are the only difference between off and on.
OFF_SWITCHES = {
    "RATE_LIMIT_ENABLED": "false",
    "SHEDDING_ENABLED": "false",
    "RETRY_ENABLED": "false",
    "BREAKER_ENABLED": "false",
    "BULKHEAD_ENABLED": "false",
    "METRICS_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
}
FULL_SAMPLING = {
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "1.0",
}
# One wrk client is one caller; at the default 100/second it would measure 429s.  The
# limiter still counts every request against this limit, which is the cost to measure.
BENCH_RATE_LIMIT = "1000000/second"
# Settings of the service (or of the OTel SDK) this script sets itself: inherited values
# are dropped so the shell's environment can't change what is measured.
INHERITED_OUT = re.compile(
    r"^(OTEL_.*|DATABASE_URL|REDIS_URL|RABBITMQ_URL|KAFKA_BOOTSTRAP_SERVERS|NATS_URL|ROLES|"
    r"LOG_LEVEL|HOST|PORT|RATE_LIMIT.*|.*_ENABLED)$"
)

# Runs of one configuration further apart than this (relative to their median) make the
# ratios untrustworthy: something else was using the CPUs.
NOISY_SPREAD = 0.15

TARGETS = (
    # (label, numerator, denominator, figure, comparison, bound)
    ("on 10% / off throughput", "on10", "off", "rps", ">=", 0.85),
    ("on 10% / off p99", "on10", "off", "p99", "<=", 2.0),
    ("on 100% / off throughput", "on100", "off", "rps", ">=", 0.60),
)

BARE_APP = '''"""The reference: FastAPI returning the same payload from memory, no database."""
import json
import sys

import uvicorn
from fastapi import FastAPI

PAYLOAD = json.loads({payload!r})
app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {{"status": "ok"}}


@app.get({route!r})
async def get_item(item_id: str) -> dict[str, object]:
    return PAYLOAD


if __name__ == "__main__":
    uvicorn.run("bare_app:app", host=sys.argv[1], port=int(sys.argv[2]), log_level=sys.argv[3])
'''

# Run with the project's Python (SQLAlchemy is there): creates the benchmark's PostgreSQL
# database and prints its URL, or drops it.
DB_ADMIN = """
import asyncio, sys
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

server, action, name = sys.argv[1:4]
statement = (
    f'CREATE DATABASE "{name}"' if action == "create"
    else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
)

async def main():
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()

asyncio.run(main())
url = make_url(server)
print(url.set(database=name).render_as_string(hide_password=False), url.host)
"""


@dataclass(frozen=True)
class Configuration:
    key: str
    label: str
    env: dict[str, str]
    bare: bool = False


@dataclass
class Figures:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def add(self, result: WrkResult, spans: tuple[int, int]) -> None:
        self.rps.append(result.rps)
        self.p50.append(result.p50)
        self.p99.append(result.p99)
        self.spans.append(spans)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(self, name)))


class BenchmarkError(SystemExit):
    """A run that measured something other than 2xx answers: the figures mean nothing."""


# -- the OTLP sink --------------------------------------------------------------------


class Sink:
    """An OTLP/HTTP collector that accepts everything and counts it: proof spans flowed,
    and the export's full cost (serialising, posting, waiting for the answer) is paid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real collector

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(size)
                with sink._lock:
                    sink._posts[self.path] += 1
                    sink._bytes[self.path] += size
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self, path: str = "/v1/traces") -> tuple[int, int]:
        """Posts and bytes received on `path` since the last take."""
        with self._lock:
            taken = (self._posts[path], self._bytes[path])
            self._posts.clear()
            self._bytes.clear()
        return taken

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- tools ---------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get"):
        print("wrk is missing; installing it with apt-get ...", flush=True)
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, check=False, capture_output=True).returncode != 0:
            # The package lists may be stale or absent (a fresh container).
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
            subprocess.run(install, check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "bench_telemetry needs wrk (https://github.com/wg/wrk): install it "
        "(Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk) and run again"
    )


def pinning() -> tuple[list[str], list[str], str]:
    """taskset prefixes for the server and wrk, and a sentence saying what was done."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if shutil.which("taskset") and len(cpus) >= 2:
        server_cpu, client_cpu = cpus[0], cpus[1]
        # The sink thread lives in this process: it goes beside wrk, off the server's CPU.
        os.sched_setaffinity(0, {client_cpu})
        return (
            ["taskset", "-c", str(server_cpu)],
            ["taskset", "-c", str(client_cpu)],
            f"server pinned to CPU {server_cpu}; wrk and the OTLP sink to CPU {client_cpu}",
        )
    return [], [], "not pinned (needs taskset and two CPUs): server and wrk share the CPUs"


@contextlib.contextmanager
def postgres_beside_wrk(cpu: int | None) -> Iterator[str]:
    """With --pin-postgres: the local PostgreSQL server's processes (and so the backends
    it forks for the server's connections) on wrk's CPU, so the server has its CPU to
    itself and runs vary far less; their affinity is put back afterwards."""
    if cpu is None or not shutil.which("taskset") or not shutil.which("pgrep"):
        yield "PostgreSQL not pinned (--pin-postgres pins it beside wrk)"
        return
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    pids = found.stdout.split()
    before = {pid: os.sched_getaffinity(int(pid)) for pid in pids}
    for pid in pids:
        subprocess.run(["taskset", "-a", "-cp", str(cpu), pid], capture_output=True)
    try:
        yield f"PostgreSQL ({len(pids)} processes) pinned to CPU {cpu}, beside wrk"
    finally:
        for pid, cpus in before.items():
            subprocess.run(
                ["taskset", "-a", "-cp", ",".join(map(str, sorted(cpus))), pid],
                capture_output=True,
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    call = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- the project ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    collection: str  # POST here creates an order
    item: str  # GET here reads one, `{order_id}` in it
    media_type: str  # what Accept asks for (the API version)


def route_of(project: Path) -> Route:
    """The create and read routes and the versioned media type, from the rendered contract."""
    import yaml

    spec = yaml.safe_load((project / "contracts" / "openapi.yaml").read_text())
    for path, operations in spec["paths"].items():
        get = operations.get("get", {})
        if get.get("operationId") == "get_order":
            media_type = next(iter(get["responses"]["200"]["content"]))
            collection = next(
                p
                for p, ops in spec["paths"].items()
                if ops.get("post", {}).get("operationId") == "create_order"
            )
            return Route(collection=collection, item=path, media_type=media_type)
    raise SystemExit("the rendered openapi.yaml has no get_order operation")


def switches_present(project: Path) -> dict[str, bool]:
    """Which OFF_SWITCHES the rendered service knows (a setting, or the OTel SDK's own)."""
    package = project / "src" / PACKAGE
    settings = (package / "settings.py").read_text()
    sources = "\n".join(p.read_text() for p in package.rglob("*.py"))
    present = {}
    for name in OFF_SWITCHES:
        if name.startswith("OTEL_"):
            # Honoured by the SDK's TracerProvider, when the service sets the SDK up.
            present[name] = (package / "platform" / "telemetry.py").is_file() and (
                "TracerProvider" in sources
            )
        else:
            present[name] = re.search(rf"^\s+{name.lower()}\s*:", settings, re.M) is not None
    return present


@contextlib.contextmanager
def database(python: Path, project: Path, scratch: Path) -> Iterator[tuple[str, str]]:
    """A migrated database of the benchmark's own: (url, what it is), dropped at the end."""
    name = f"{PACKAGE}_bench_{secrets.token_hex(3)}"
    created = subprocess.run(
        [str(python), "-c", DB_ADMIN, POSTGRES_URL, "create", name],
        capture_output=True,
        text=True,
    )
    if created.returncode == 0:
        url, host = created.stdout.split()
        described = f"PostgreSQL, database {name} on {host}"
    else:
        reason = (created.stderr.strip().splitlines() or ["no answer"])[-1]
        url = f"sqlite+aiosqlite:///{scratch / 'bench.db'}"
        described = f"SQLite file (PostgreSQL at {POSTGRES_URL} unavailable: {reason})"
    try:
        env = {**clean_environment(), "DATABASE_URL": url}
        subprocess.run(
            [str(python), "-m", "alembic", "upgrade", "heads"],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )
        yield url, described
    finally:
        if created.returncode == 0:
            subprocess.run(
                [str(python), "-c", DB_ADMIN, POSTGRES_URL, "drop", name],
                check=False,
                capture_output=True,
            )


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not INHERITED_OUT.match(k)}


# -- serving and measuring -----------------------------------------------------------


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], cwd: Path, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, ready (its /healthz answers) for the body; stopped after it."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(process, port, log)
        yield process
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise BenchmarkError(
                f"the server exited with {process.returncode} before it was ready:\n" + tail(log)
            )
        with contextlib.suppress(OSError):
            if request(f"http://{HOST}:{port}/healthz")[0] == 200:
                return
        if time.monotonic() > deadline:
            raise BenchmarkError("the server was not ready within 60 s:\n" + tail(log))
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], how: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_average() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * UNITS[match[2]]


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50: float
    p99: float
    requests: int


def run_wrk(
    wrk: list[str], url: str, media_type: str, args: argparse.Namespace, seconds: float
) -> WrkResult:
    command = [
        *wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-H",
        f"Accept: {media_type}",
        url,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    output = finished.stdout + finished.stderr
    if finished.returncode != 0:
        raise BenchmarkError(f"wrk failed ({finished.returncode}):\n{output}")
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if (errors and any(int(n) for n in errors.groups())) or non_2xx:
        raise BenchmarkError("wrk saw failed requests: figures of errors mean nothing.\n" + output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise BenchmarkError("could not read wrk's output:\n" + output)
    return WrkResult(float(rps[1]), milliseconds(p50[1]), milliseconds(p99[1]), int(total[1]))


def check_answer(bench: Bench, expected: object, config: Configuration) -> str:
    """One request by hand before measuring: the right payload, and the switches took."""
    status, headers, body = request(bench.url, headers={"Accept": bench.media_type})
    if status != 200 or json.loads(body) != expected:
        raise BenchmarkError(f"{config.label}: GET {bench.url} answered {status}: {body[:300]!r}")
    if config.bare:
        return "200, same payload"
    limited = any(h.lower() == "ratelimit-limit" for h in headers)
    # The RED metrics name the route template; without the middleware no sample has it.
    scraped = request(f"http://{HOST}:{bench.port}/metrics")[2].decode()
    counted = re.search(r'^http_requests_total\{[^}]*route="[^"]*\{', scraped, re.M)
    return (
        f"200, same payload; rate-limit headers {'present' if limited else 'absent'}; "
        f"request {'counted' if counted else 'not counted'} in /metrics"
    )


# -- main ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """What every measurement shares: the project, its route, the servers' commands."""

    args: argparse.Namespace
    python: Path
    project: Path
    scratch: Path
    server_pin: list[str]
    client_pin: list[str]
    wrk: list[str]
    port: int
    media_type: str
    url: str
    log: Path

    def command(self, config: Configuration) -> tuple[list[str], Path]:
        if config.bare:
            level = self.args.log_level.lower()
            bare = ["bare_app.py", HOST, str(self.port), level]
            return [*self.server_pin, str(self.python), *bare], self.scratch
        return [*self.server_pin, str(self.python), "-m", PACKAGE], self.project

    def wrk_run(self, seconds: float) -> WrkResult:
        return run_wrk(self.wrk, self.url, self.media_type, self.args, seconds)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="LOG_LEVEL of every server (same for all; INFO adds an access log line per request)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also sample the on-10%% server with py-spy"
    )
    parser.add_argument(
        "--pin-postgres",
        action="store_true",
        help="pin this machine's PostgreSQL to wrk's CPU for the run (needs the rights to)",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    wrk_bin = ensure_wrk()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        project = scratch / "bench"
        print("rendering and installing the project ...", flush=True)
        python = render_and_install(
            project,
            extras="[dev]",
            project_name=PROJECT_NAME,
            protocols="rest",
            api_versioning="header",
            messaging="none",
            domains="orders",
        )
        route = route_of(project)
        present = switches_present(project)
        server_pin, wrk_pin, pinned = pinning()
        postgres_cpu = int(wrk_pin[-1]) if args.pin_postgres and wrk_pin else None
        sink = Sink()
        try:
            with (
                postgres_beside_wrk(postgres_cpu) as postgres_pinned,
                database(python, project, scratch) as (database_url, database_described),
            ):
                pinned = f"{pinned}; {postgres_pinned}"
                port = free_port()
                base = {
                    **clean_environment(),
                    "DATABASE_URL": database_url,
                    "HOST": HOST,
                    "PORT": str(port),
                    "LOG_LEVEL": args.log_level,
                    "RATE_LIMIT": BENCH_RATE_LIMIT,
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                }
                configurations = [
                    Configuration("off", "off", {**base, **OFF_SWITCHES}),
                    Configuration("on10", "on, 10% sampled", dict(base)),
                    Configuration("on100", "on, 100% sampled", {**base, **FULL_SAMPLING}),
                    Configuration("bare", "bare FastAPI", dict(base), bare=True),
                ]
                log = scratch / "server.log"
                service = [*server_pin, str(python), "-m", PACKAGE]
                with serving(service, configurations[0].env, project, port, log):
                    payload = create_order(port, route)
                item_path = route.item.replace("{order_id}", str(payload["id"]))
                (scratch / "bare_app.py").write_text(
                    BARE_APP.format(
                        payload=json.dumps(payload),
                        route=re.sub(r"\{[^}]+\}", "{item_id}", route.item),
                    )
                )
                bench = Bench(
                    args=args,
                    python=python,
                    project=project,
                    scratch=scratch,
                    server_pin=server_pin,
                    client_pin=wrk_pin,
                    wrk=[*wrk_pin, wrk_bin],
                    port=port,
                    media_type=route.media_type,
                    url=f"http://{HOST}:{port}{item_path}",
                    log=log,
                )
                print_setup(args, pinned, database_described, route, item_path, present, base, sink)
                figures = measure(bench, configurations, payload, sink)
                report(configurations, figures, args)
                if args.profile:
                    profile(bench, configurations[1])
        finally:
            sink.close()


def create_order(port: int, route: Route) -> dict[str, object]:
    """The one order every configuration reads, created through the API."""
    status, _, body = request(
        f"http://{HOST}:{port}{route.collection}",
        method="POST",
        body=json.dumps(
            {"name": "Benchmark order", "notes": [{"body": "Leave at the door"}]}
        ).encode(),
        headers={"Content-Type": "application/json", "Accept": route.media_type},
    )
    if status != 201:
        raise BenchmarkError(f"POST {route.collection} answered {status}: {body!r}")
    created: dict[str, object] = json.loads(body)
    return created


def measure(
    bench: Bench, configurations: list[Configuration], payload: object, sink: Sink
) -> dict[str, Figures]:
    """Every configuration once per run, a fresh server each time; the order rotates."""
    figures = {config.key: Figures() for config in configurations}
    checks: dict[str, str] = {}
    for run in range(bench.args.runs):
        shift = run % len(configurations)
        for config in configurations[shift:] + configurations[:shift]:
            command, cwd = bench.command(config)
            sink.take()
            with serving(command, config.env, cwd, bench.port, bench.log):
                if config.key not in checks:
                    checks[config.key] = check_answer(bench, payload, config)
                bench.wrk_run(bench.args.warmup)
                result = bench.wrk_run(bench.args.duration)
            # Taken after the stop: the server flushes the spans still batched on shutdown.
            spans = sink.take()
            figures[config.key].add(result, spans)
            exported = "" if config.bare else f"  (OTLP: {spans[0]} posts, {spans[1]:,} bytes)"
            print(
                f"  run {run + 1}/{bench.args.runs} {config.label:<17}"
                f" {result.rps:>9,.0f} req/s  p50 {result.p50:7.2f} ms  p99 {result.p99:7.2f} ms"
                f"{exported}",
                flush=True,
            )
    print()
    print("checked before measuring, one GET by hand:")
    for config in configurations:
        print(f"  {config.label:<17} {checks[config.key]}")
    print(f"load average at the end: {load_average()}")
    return figures


def print_setup(
    args: argparse.Namespace,
    pinned: str,
    database_described: str,
    route: Route,
    item_path: str,
    present: dict[str, bool],
    base: dict[str, str],
    sink: Sink,
) -> None:
    shown = (
        "LOG_LEVEL",
        "RATE_LIMIT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    )
    print()
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, "
        f"{args.warmup:g} s warm-up, {args.runs} run(s), configurations interleaved"
    )
    print(pinned)
    print(f"load average (1, 5, 15 min; other work on the machine skews figures): {load_average()}")
    print(f"database: {database_described}")
    print(f"measured: GET {route.item} (here {item_path}), Accept: {route.media_type}")
    print(f"served by: python -m {PACKAGE} (uvicorn, uvloop, httptools, one worker)")
    print(f"every service configuration: {' '.join(f'{k}={base[k]}' for k in shown)}")
    print(
        f"  RATE_LIMIT={BENCH_RATE_LIMIT}: wrk is one caller, so the default 100/second would"
        " answer 429s; the limiter still counts every request"
    )
    print(f"  OTLP sink: {sink.url}/v1/traces (run by this script, answers 200)")
    print(f"off adds: {' '.join(f'{k}={v}' for k, v in OFF_SWITCHES.items())}")
    missing = [name for name, known in present.items() if not known]
    if missing:
        print(f"  not in this service yet (no effect): {', '.join(missing)}")
    print("on 10% adds nothing (OTEL_TRACES_SAMPLER unset: the service's default)")
    print(f"on 100% adds: {' '.join(f'{k}={v}' for k, v in FULL_SAMPLING.items())}")
    print(
        "bare FastAPI: one route returning the same JSON from memory, uvicorn with the same "
        "options, no database"
    )
    print(flush=True)


def report(
    configurations: list[Configuration], figures: dict[str, Figures], args: argparse.Namespace
) -> None:
    print()
    print(f"median of {args.runs} run(s) per figure:")
    header = f"{'configuration':<17} {'req/s':>9} {'spread':>7} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"  {header}   OTLP received (all runs)")
    noisy = False
    for config in configurations:
        f = figures[config.key]
        # (max - min) / median of the runs' throughput: how far to trust the ratios.
        spread = (max(f.rps) - min(f.rps)) / f.median("rps")
        noisy = noisy or spread > NOISY_SPREAD
        posts = sum(p for p, _ in f.spans)
        sent = sum(b for _, b in f.spans)
        exported = f"{posts} posts, {sent:,} bytes" if not config.bare else ""
        print(
            f"  {config.label:<17} {f.median('rps'):>9,.0f} "
            f"{f'{spread:.0%}' if len(f.rps) > 1 else '-':>7} "
            f"{f.median('p50'):>8.2f} {f.median('p99'):>8.2f}   {exported}"
        )
    if noisy:
        print(
            f"  NOISY: runs of one configuration differ by more than {NOISY_SPREAD:.0%}; "
            "the machine is busy (see the load average): the ratios are rough"
        )
    print()
    print("ratios:")
    for label, top, bottom, figure, comparison, bound in TARGETS:
        ratio = figures[top].median(figure) / figures[bottom].median(figure)
        met = ratio >= bound if comparison == ">=" else ratio <= bound
        print(
            f"  {label:<26} {ratio:5.2f}x  (target {comparison} {bound:.2f}: "
            f"{'met' if met else 'MISSED'})"
        )
    on100_p99 = figures["on100"].median("p99") / figures["off"].median("p99")
    print(f"  {'on 100% / off p99':<26} {on100_p99:5.2f}x  (no target)")
    off_bare = figures["off"].median("rps") / figures["bare"].median("rps")
    print(f"  {'off / bare FastAPI':<26} {off_bare:5.2f}x  (reference: the service's own work)")
    if not sum(p for p, _ in figures["on10"].spans):
        print("  WARNING: the sink received no spans from the on-10% runs: tracing did not export")


def profile(bench: Bench, config: Configuration) -> None:
    """Sample the on-10% server with py-spy for one run (not counted in the figures).

    py-spy reads the real stacks of every thread (the span exporter's too), greenlets
    included: pyinstrument follows call events, which SQLAlchemy's greenlet switches
    skip, so it charges the event loop's time to whatever query last switched away.
    """
    from uv import find_uv_bin

    print()
    print("profiling the on-10% server with py-spy (samples of threads holding the GIL):")
    subprocess.run(
        [find_uv_bin(), "pip", "install", "-q", "-p", str(bench.python), "py-spy"], check=True
    )
    stacks = Path(tempfile.gettempdir()) / "bench_telemetry_profile.txt"
    stacks.unlink(missing_ok=True)
    seconds = max(1, round(bench.args.duration))
    command, cwd = bench.command(config)
    with serving(command, config.env, cwd, bench.port, bench.log) as server:
        bench.wrk_run(bench.args.warmup)
        spy = subprocess.Popen(
            [
                *bench.client_pin,
                str(bench.python.parent / "py-spy"),
                "record",
                f"--pid={server.pid}",
                "--gil",
                "--nolineno",
                "--full-filenames",
                "--nonblocking",
                "--rate=200",
                f"--duration={seconds}",
                "--format=raw",
                f"--output={stacks}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        result = bench.wrk_run(seconds)
        said, _ = spy.communicate(timeout=seconds + 60)
    print(f"  while sampled: {result.rps:,.0f} req/s, p99 {result.p99:.2f} ms")
    if spy.returncode != 0 or not stacks.is_file():
        print(f"  py-spy failed ({spy.returncode}; it needs ptrace rights):\n{said}")
        return
    summarize(stacks)
    print(f"  stacks (collapsed, for speedscope or flamegraph.pl): {stacks}")


# What the "on" configurations add: libraries that trace, measure and count (each only
# ever called, never wrapping the app, so a sample with one of their frames is their
# work), and our modules that do it (middlewares wrapping the app: their own frames only).
OBSERVABILITY_LIBRARIES = ("opentelemetry", "prometheus_client", "limits")
OBSERVABILITY_MODULES = tuple(
    f"{PACKAGE}.platform.{module}"
    for module in (
        "tracing",
        "telemetry",
        "tracecontext",
        "metrics",
        "protection",
        "ratelimit",
        "shedding",
        "principal",
    )
)


def summarize(stacks: Path, top: int = 25) -> None:
    """Self time by package (ours by module), what observability and protection take in
    all, then the hottest functions."""
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    within_library: Counter[str] = Counter()
    observability = 0
    for line in stacks.read_text().splitlines():
        stack, _, tally = line.rpartition(" ")
        if not stack:
            continue
        samples = int(tally)
        frames = [frame_of(frame) for frame in stack.split(";")]
        packages = {package_of(path) for _, path in frames}
        function, path = frames[-1]
        by_function[f"{function} ({path})"] += samples
        by_package[package_of(path)] += samples
        for library in packages.intersection(OBSERVABILITY_LIBRARIES):
            within_library[library] += samples
        if packages.intersection(OBSERVABILITY_LIBRARIES) or (
            package_of(path) in OBSERVABILITY_MODULES
        ):
            observability += samples
    total = sum(by_function.values()) or 1
    print(f"  {total} samples; self time by package (ours by module):")
    for name, count in by_package.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {name}")
    print("  in these libraries and all they call:")
    for library in OBSERVABILITY_LIBRARIES:
        print(f"    {100 * within_library[library] / total:5.1f}%  {library}")
    print(
        f"  tracing, metrics, rate limiting, shedding together: {100 * observability / total:.1f}%"
        " (those libraries with all they call, and our middlewares' own frames)"
    )
    print("  hottest functions (self time):")
    for name, count in by_function.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {name}")


def frame_of(frame: str) -> tuple[str, str]:
    """py-spy's `send (/.../site-packages/uvicorn/protocols/http/httptools_impl.py)` ->
    (`send`, `uvicorn/protocols/http/httptools_impl.py`): the path from its package on."""
    function, _, path = frame.rstrip(")").rpartition(" (")
    for root in (r"/site-packages/", r"/src/", r"/lib/python3\.\d+/"):
        within = re.search(f"{root}(.*)$", path)
        if within:
            return function, within[1]
    return function, path


def package_of(path: str) -> str:
    """`uvicorn/protocols/http/httptools_impl.py` -> `uvicorn`; our own modules stay whole
    (`bench_svc.platform.tracing`)."""
    if path.startswith(f"{PACKAGE}/"):
        return path.removesuffix(".py").replace("/", ".")
    return path.split("/", 1)[0].removesuffix(".py")


if __name__ == "__main__":
    main()
