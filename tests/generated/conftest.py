"""Keep every test of one generated project on one xdist worker (`--dist loadgroup`),
so each project is rendered and installed once."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        for name in ("project", "served"):
            if name in callspec.params:
                item.add_marker(pytest.mark.xdist_group(f"{name}-{callspec.params[name]}"))
