"""How many events per second the outbox relay of a generated service moves from
PostgreSQL to RabbitMQ, against two baselines measured in the same run:

- the same relay handing events to a publisher that does nothing (the database's share:
  read the batch, mark each row sent);
- aio-pika publishing the same messages with publisher confirms, one at a time, with no
  database at all (the broker's share).

    python benchmarks/bench_relay.py [--events 2000] [--aggregates 200] [--runs 3]

It renders a REST + RabbitMQ project, installs it with uv, and runs the measurement
inside that project's environment against this machine's PostgreSQL (127.0.0.1:5432)
and RabbitMQ (127.0.0.1:5672); ARCHGEN_TEST_POSTGRES_URL / ARCHGEN_TEST_RABBITMQ_URL
override them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from generated import render_and_install  # this folder: scripts run as `python benchmarks/...`

POSTGRES_URL = os.environ.get(
    "ARCHGEN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("ARCHGEN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")

# Runs inside the generated project (package `bench_svc`); prints one line per figure.
MEASURE = """
import asyncio, secrets, statistics, sys, time
from datetime import UTC, datetime
from uuid import uuid4

import aio_pika
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench_svc.platform.db import Database, OutboxRow
from bench_svc.platform.messages import Message, Subscription, encode, headers
from bench_svc.platform.outbox import OutboxRelay
from bench_svc.platform.rabbitmq import RabbitMqTransport

SERVER, BROKER, EVENTS, AGGREGATES, RUNS = sys.argv[1:6]
EVENTS, AGGREGATES, RUNS = int(EVENTS), int(AGGREGATES), int(RUNS)
NOW = datetime.now(UTC)


async def admin(statement):
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.exec_driver_sql(statement)
    await engine.dispose()


async def fill(database):
    aggregates = [uuid4() for _ in range(AGGREGATES)]
    async with database.unit_of_work(write=True) as session:
        await session.execute(update(OutboxRow).values(sent_at=NOW))
        session.add_all(
            OutboxRow(
                id=uuid4(), aggregate_type="orders", aggregate_id=aggregates[n % AGGREGATES],
                event_type="OrderCreated", payload={"order_id": str(uuid4()), "n": n},
                occurred_at=NOW, trace_context=None, attempts=0,
            )
            for n in range(EVENTS)
        )


async def drain(relay, database):
    start = time.perf_counter()
    while await relay.run_once():
        pass
    elapsed = time.perf_counter() - start
    async with database.unit_of_work() as session:
        left = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))
        )
    assert left == 0, left
    return EVENTS / elapsed


async def raw_publish(messages, namespace):
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            f"{namespace}.raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{namespace}.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "#")
        start = time.perf_counter()
        for message in messages:
            await exchange.publish(
                aio_pika.Message(encode(message), headers=dict(headers(message)),
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=message.event_type,
            )
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
    return len(messages) / elapsed


async def main():
    namespace = f"bench_{secrets.token_hex(3)}"
    await admin(f'CREATE DATABASE "{namespace}"')
    url = make_url(SERVER).set(database=namespace).render_as_string(hide_password=False)
    config = Config("alembic.ini")
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    await asyncio.to_thread(command.upgrade, config, "heads")
    database = Database(url)
    transport = RabbitMqTransport(BROKER, namespace=namespace, max_attempts=5)

    async def nothing(message):
        return None

    # A reaction's quorum queue bound to the events, as in a service with a consumer
    # (not consuming, so the queue only fills): each confirm then waits for a queue write,
    # exactly as for the bare aio-pika baseline.
    transport.subscribe(Subscription(group="bench", name="bench.sink", source="orders",
                                     event_type="OrderCreated", handler=nothing))
    await transport.start(consume=False)
    await transport.wait_ready(30)
    figures = {"relay to RabbitMQ": [], "relay to a no-op publisher": [], "aio-pika alone": []}

    try:
        for _ in range(RUNS):
            await fill(database)
            figures["relay to a no-op publisher"].append(
                await drain(OutboxRelay(database, nothing), database))
            await fill(database)
            figures["relay to RabbitMQ"].append(
                await drain(OutboxRelay(database, transport.publish), database))
            messages = [
                Message(id=uuid4(), event_type="OrderCreated", aggregate_type="orders",
                        aggregate_id=uuid4(), payload={"order_id": str(uuid4()), "n": n},
                        occurred_at=NOW)
                for n in range(EVENTS)
            ]
            figures["aio-pika alone"].append(await raw_publish(messages, namespace))
    finally:
        await transport.stop()
        await transport.delete_topology(["orders"])
        await database.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{namespace}" WITH (FORCE)')
    for name, rates in figures.items():
        print(f"{name}: median {statistics.median(rates):,.0f} events/s over {RUNS} runs "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    relay = statistics.median(figures["relay to RabbitMQ"])
    print(f"relay / aio-pika alone: {relay / statistics.median(figures['aio-pika alone']):.2f}x")
    database_only = statistics.median(figures["relay to a no-op publisher"])
    print(f"relay / no-op publisher: {relay / database_only:.2f}x")


asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--aggregates", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "bench"
        python = render_and_install(
            project, project_name="bench-svc", messaging="rabbitmq", domains="orders"
        )
        (project / "measure.py").write_text(MEASURE)
        subprocess.run(
            [
                str(python),
                "measure.py",
                POSTGRES_URL,
                RABBITMQ_URL,
                str(args.events),
                str(args.aggregates),
                str(args.runs),
            ],
            cwd=project,
            check=True,
        )
    print(f"({args.events} events over {args.aggregates} aggregates per run)")


if __name__ == "__main__":
    main()
