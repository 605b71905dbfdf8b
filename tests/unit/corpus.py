"""One corpus of names, good and bad, that every rule set is run against."""

# Plausible bounded-context names, in the spellings people type.
DOMAIN_WORDS = """
orders payments users people categories addresses statuses analytics news inventory
shipping billing catalog catalogs invoices boxes matches wishes quizzes buses children
criteria analyses companies movies heroes potatoes leaves wolves knives lives series
species men women feet accounts products carts customers notifications reports sessions
messages cases purchases warehouses shipments refunds subscriptions plans tenants
organizations teams roles permissions tokens audits tasks jobs workflows documents
files images assets tags comments reviews ratings votes posts threads profiles
preferences phones contacts leads deals opportunities quotes contracts policies claims
vehicles drivers trips stops deliveries parcels stores branches regions countries
currencies prices discounts coupons promotions campaigns order payment user person
category address status bus analysis box match hero quiz company child leaf
""".split()

GOOD_DOMAINS = [
    *DOMAIN_WORDS,
    "Order-Items",
    "OrderItems",
    "order items",
    "  orders  ",
    "HTTPRequests",
    "user_profiles",
    "kpi2",
    "_private",
    "x",
    "a" * 24,
]

BAD_DOMAINS = [
    "",
    "   ",
    "--",
    "123",
    "9lives",
    "ørders",
    "naïve",
    "class",
    "Import",
    "none",
    "list",
    "dict",
    "type",
    "email",
    "json",
    "os",
    "typing",
    "asyncio",
    "fastapi",
    "sqlalchemy",
    "redis",
    "pydantic",
    "platform",
    "settings",
    "tests",
    "api",
    "migrations",
    "docs",
    "health",
    "outbox",
    "events",
    "queries",
    "mutations",
    "page_infos",
    "DateTimes",
    "problems",
    "a" * 25,
    42,
    None,
    ["orders"],
]

DOMAIN_LISTS = [
    ["orders", "payments"],
    ["Order-Items", "people", "categories", "statuses"],
    [],
    "orders",
    {"orders": 1},
    42,
    [1],
    ["orders", "Orders"],
    ["order", "orders"],
    ["Order-Items", "order_items"],
    ["people", "person"],
    ["orders", "orders_notes"],
    ["orders", "order_connections"],
    ["orders", "order_statuses"],
    ["order_statuses"],
    ["orders", "order_items"],
    ["orders", "class"],
    ["orders", None],
]

PROJECT_NAMES = [
    "my-service",
    "Acme Shop",
    "acme_shop",
    "AcmeShop2",
    "x",
    "",
    "   ",
    "2fast",
    "Café",
    "-- --",
    42,
    None,
]

PACKAGE_NAMES = [
    "my_service",
    "acme_shop",
    "shop2",
    "AcmeShop",
    "acme-shop",
    "2fast",
    "email",
    "redis",
    "json",
    "class",
    "tests",
    "",
    "é",
    "a" * 31,
    "a" * 30,
    None,
]

DESCRIPTIONS = ["A shop", "", "  ", "two\nlines", None]

PROTOCOL_LISTS = [
    ["rest"],
    ["graphql", "grpc"],
    ["rest", "graphql", "grpc"],
    [],
    "rest",
    ["rest", "soap"],
    ["grpc", "grpc"],
    None,
]
