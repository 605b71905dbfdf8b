"""Keep every test of one generated project on one xdist worker (`--dist loadgroup`),
so each project is rendered and installed once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.generated.harness import Tansu


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        for name in ("project", "served"):
            if name in callspec.params:
                item.add_marker(pytest.mark.xdist_group(f"{name}-{callspec.params[name]}"))


@pytest.fixture(scope="session")
def kafka() -> Iterator[Tansu]:
    """A Kafka-protocol broker for this worker's Kafka projects, started on first use."""
    broker = Tansu()
    try:
        yield broker
    finally:
        broker.stop()
