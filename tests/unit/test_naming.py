"""The names a domain gets in every case."""

from __future__ import annotations

import pytest

from archgen import naming


@pytest.mark.parametrize(
    ("raw", "snake", "singular", "plural", "pascal_singular", "route"),
    [
        ("Order-Items", "order_items", "order_item", "order_items", "OrderItem", "order-items"),
        ("OrderItems", "order_items", "order_item", "order_items", "OrderItem", "order-items"),
        ("order items", "order_items", "order_item", "order_items", "OrderItem", "order-items"),
        ("people", "people", "person", "people", "Person", "people"),
        ("categories", "categories", "category", "categories", "Category", "categories"),
        ("statuses", "statuses", "status", "statuses", "Status", "statuses"),
        ("status", "status", "status", "statuses", "Status", "statuses"),
        ("bus", "bus", "bus", "buses", "Bus", "buses"),
        ("analysis", "analysis", "analysis", "analyses", "Analysis", "analyses"),
        ("payment", "payment", "payment", "payments", "Payment", "payments"),
        (
            "HTTPRequests",
            "http_requests",
            "http_request",
            "http_requests",
            "HttpRequest",
            "http-requests",
        ),
        ("news", "news", "news", "news", "News", "news"),
    ],
)
def test_every_case_of_a_domain_name(
    raw: str, snake: str, singular: str, plural: str, pascal_singular: str, route: str
) -> None:
    assert naming.snake(raw) == snake
    assert naming.singular(raw) == singular
    assert naming.plural(raw) == plural
    assert naming.pascal(naming.singular(raw)) == pascal_singular
    assert naming.kebab(naming.plural(raw)) == route


def test_human_names() -> None:
    assert naming.human("order_items") == "Order items"
