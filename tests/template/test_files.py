"""Which files a project gets for which answers, and what they say (pytest-copie)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

DOMAIN_FILES = [
    "__init__.py",
    "model.py",
    "service.py",
    "repository.py",
    "tables.py",
    "api/__init__.py",
    "api/rest.py",
    "api/schemas.py",
]


def render(copie: Any, template_repo: Path, **answers: Any) -> Path:
    result = copie.copy(extra_answers=answers, template_dir=template_repo)
    assert result.exit_code == 0, result.exception
    return Path(result.project_dir)


@pytest.mark.parametrize(
    ("domains", "modules", "routes"),
    [
        (["orders"], ["orders"], ["orders"]),
        (
            ["Order-Items", "people", "categories", "statuses"],
            ["order_items", "people", "categories", "statuses"],
            ["order-items", "people", "categories", "statuses"],
        ),
    ],
)
def test_every_domain_gets_its_modules_migration_tests_and_paths(
    copie: Any, template_repo: Path, domains: list[str], modules: list[str], routes: list[str]
) -> None:
    project = render(copie, template_repo, project_name="Acme Shop", domains=domains)
    package = project / "src" / "acme_shop"
    assert sorted(p.name for p in (package / "domains").iterdir() if p.is_dir()) == sorted(modules)
    for module in modules:
        for name in DOMAIN_FILES:
            assert (package / "domains" / module / name).is_file(), f"{module}/{name}"
        assert (project / "migrations" / "versions" / f"{module}_0001_initial.py").is_file()
        assert (project / "tests" / "api" / f"test_{module}.py").is_file()
    migrations = sorted((project / "migrations" / "versions").glob("*.py"))
    assert len(migrations) == len(modules)
    for migration in migrations:
        revision = re.search(r'^revision[^=]*= "([^"]+)"', migration.read_text(), re.M)
        down = re.search(r"^down_revision[^=]*= (.+)$", migration.read_text(), re.M)
        assert revision and revision.group(1) == migration.name.removesuffix("_initial.py")
        assert down and down.group(1).strip() == "None", "each domain is its own branch"
    openapi = yaml.safe_load((project / "contracts" / "openapi.yaml").read_text())
    for route in routes:
        assert f"/{route}" in openapi["paths"]
        assert f"/{route}/{{id}}" in openapi["paths"] or any(
            p.startswith(f"/{route}/{{") for p in openapi["paths"]
        )
    for path in ("/healthz", "/readyz"):
        assert path in openapi["paths"]


def test_header_versioning_negotiates_the_vendor_media_type(copie: Any, template_repo: Path) -> None:
    project = render(copie, template_repo, project_name="Acme Shop", api_versioning="header")
    versioning = (project / "src" / "acme_shop" / "platform" / "versioning.py").read_text()
    assert "application/vnd.acme-shop" in versioning
    openapi = yaml.safe_load((project / "contracts" / "openapi.yaml").read_text())
    assert not any(path.startswith("/v1/") for path in openapi["paths"])
    assert "application/vnd.acme-shop.v1+json" in (project / "contracts" / "openapi.yaml").read_text()


def test_url_versioning_prefixes_the_domain_routes(copie: Any, template_repo: Path) -> None:
    project = render(copie, template_repo, api_versioning="url", domains=["orders"])
    openapi = yaml.safe_load((project / "contracts" / "openapi.yaml").read_text())
    assert "/v1/orders" in openapi["paths"]
    assert "/orders" not in openapi["paths"]
    assert "/healthz" in openapi["paths"]
    assert "vnd." not in (project / "src" / "my_service" / "platform" / "versioning.py").read_text()


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_python_version_sets_the_tool_docker_and_ci_targets(
    copie: Any, template_repo: Path, version: str
) -> None:
    project = render(copie, template_repo, python_version=version)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert (project / ".python-version").read_text().strip() == version
    assert f"python:{version}-slim" in (project / "deploy" / "Dockerfile").read_text()
    assert version in (project / ".github" / "workflows" / "ci.yml").read_text()


@pytest.mark.parametrize("messaging", ["none", "rabbitmq", "kafka", "nats"])
def test_constraints_pin_every_dependency(copie: Any, template_repo: Path, messaging: str) -> None:
    project = render(copie, template_repo, messaging=messaging)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    pins = {}
    for line in (project / "constraints.txt").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line):
            pins[re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")] = match.group(2)
    declared = pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    for requirement in declared:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert re.search(r"[<>=~]", requirement), f"{requirement} has no version range"


@pytest.mark.parametrize("messaging", ["none", "rabbitmq", "kafka", "nats"])
def test_every_setting_is_documented_in_readme_and_env_example(
    copie: Any, template_repo: Path, messaging: str
) -> None:
    project = render(copie, template_repo, messaging=messaging)
    tree = ast.parse((project / "src" / "my_service" / "settings.py").read_text())
    settings = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings")
    names = [
        node.target.id.upper()
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    assert "DATABASE_URL" in names and "NAMESPACE" in names
    readme = (project / "README.md").read_text()
    env_example = (project / ".env.example").read_text()
    for name in names:
        assert f"`{name}`" in readme, f"{name} is missing from README.md"
        assert re.search(rf"^#? ?{name}=", env_example, re.M), f"{name} is missing from .env.example"


MESSAGING_FILES = {
    "rabbitmq": ["src/my_service/platform/rabbitmq.py"],
    "kafka": ["src/my_service/platform/kafka.py"],
    "nats": ["src/my_service/platform/nats.py"],
}
BROKER_VARIABLES = {
    "rabbitmq": "RABBITMQ_URL",
    "kafka": "KAFKA_BOOTSTRAP_SERVERS",
    "nats": "NATS_URL",
}
BROKER_TESTS = [
    "tests/broker/conftest.py",
    "tests/broker/test_delivery.py",
    "tests/broker/relay_until_confirmed.py",
]


@pytest.mark.parametrize("messaging", ["none", "rabbitmq", "kafka", "nats"])
def test_each_broker_brings_its_transport_and_broker_tests_and_only_those(
    copie: Any, template_repo: Path, messaging: str
) -> None:
    project = render(copie, template_repo, messaging=messaging)
    for broker, files in MESSAGING_FILES.items():
        for name in files:
            assert (project / name).is_file() == (broker == messaging), name
    for name in BROKER_TESTS:
        assert (project / name).is_file() == (messaging != "none"), name
    pyproject = (project / "pyproject.toml").read_text()
    assert ('"aio-pika' in pyproject) == (messaging == "rabbitmq")
    assert ('"aiokafka' in pyproject) == (messaging == "kafka")
    assert ('"nats-py' in pyproject) == (messaging == "nats")
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text()
    for broker, variable in BROKER_VARIABLES.items():  # its CI runs the broker tests
        assert (f"{variable}:" in workflow) == (broker == messaging), variable
    for always in ("platform/bus.py", "platform/outbox.py", "platform/inbox.py", "platform/messaging.py"):
        assert (project / "src" / "my_service" / always).is_file(), always


PROTOCOL_FILES = {
    "rest": [
        "contracts/openapi.yaml",
        "src/my_service/servers/rest.py",
        "src/my_service/domains/people/api/rest.py",
        "src/my_service/domains/people/api/schemas.py",
        "src/my_service/platform/versioning.py",
        "tests/api/test_people.py",
        "tests/contract/test_openapi.py",
    ],
    "graphql": [
        "contracts/schema.graphql",
        "src/my_service/servers/graphql.py",
        "src/my_service/domains/people/api/graphql.py",
        "tests/graphql/test_people.py",
        "tests/graphql/test_limits.py",
        "tests/contract/test_graphql_schema.py",
    ],
    "grpc": [
        "contracts/proto/my_service/people/v1/people.proto",
        "hatch_build.py",
        "src/my_service/protostubs.py",
        "src/my_service/platform/rpc.py",
        "src/my_service/servers/grpc.py",
        "src/my_service/domains/people/api/grpc.py",
        "tests/grpc/test_server.py",
        "tests/grpc/test_people.py",
        "tests/contract/test_proto.py",
    ],
}
PROTOCOL_FOLDERS = {"graphql": ["tests/graphql"], "grpc": ["contracts/proto", "tests/grpc"]}


@pytest.mark.parametrize(
    "protocols",
    [["rest"], ["graphql"], ["grpc"], ["rest", "graphql"], ["graphql", "grpc"], ["rest", "graphql", "grpc"]],
    ids=lambda p: "+".join(p),
)
def test_each_protocol_brings_its_files_and_only_those(
    copie: Any, template_repo: Path, protocols: list[str]
) -> None:
    project = render(copie, template_repo, protocols=protocols, domains=["people"])
    for protocol, files in PROTOCOL_FILES.items():
        for name in files:
            assert (project / name).is_file() == (protocol in protocols), name
    for protocol, folders in PROTOCOL_FOLDERS.items():
        for name in folders:
            assert (project / name).is_dir() == (protocol in protocols), name
    for always in (
        "src/my_service/platform/health.py",
        "tests/api/test_health.py",
        "contracts/asyncapi.yaml",
        "src/my_service/platform/asyncapi.py",
        "tests/contract/test_asyncapi.py",
    ):
        assert (project / always).is_file(), always


RESILIENCE_FILES = [
    "src/my_service/platform/resilience.py",
    "src/my_service/platform/clients.py",
    "src/my_service/platform/deadlines.py",
    "src/my_service/platform/principal.py",
    "src/my_service/platform/idempotency.py",
    "src/my_service/platform/protection.py",
    "src/my_service/platform/ratelimit.py",
    "src/my_service/platform/shedding.py",
    "src/my_service/platform/metrics.py",
    "migrations/platform/platform_0002_idempotency.py",
    "tests/resilience/test_policy.py",
    "tests/resilience/test_client.py",
    "tests/resilience/test_broker_policy.py",
    "tests/resilience/test_database_retry.py",
    "tests/resilience/test_readiness.py",
    "tests/resilience/test_ratelimit.py",
    "tests/resilience/test_shedding.py",
    "tests/resilience/test_shutdown.py",
]
# Proofs that go through one protocol: each project has those of the protocols it serves.
RESILIENCE_PROTOCOL_FILES = {
    "rest": ["tests/resilience/test_idempotency.py"],
    "graphql": ["tests/graphql/test_idempotency.py"],
    "grpc": [
        "src/my_service/platform/grpc_protection.py",
        "tests/grpc/test_idempotency.py",
        "tests/grpc/test_protection.py",
        "tests/grpc/test_deadlines.py",
    ],
}


@pytest.mark.parametrize(
    "protocols", [["rest"], ["graphql"], ["grpc"], ["rest", "graphql", "grpc"]], ids="+".join
)
def test_every_project_has_resilience_and_its_proofs_for_each_protocol(
    copie: Any, template_repo: Path, protocols: list[str]
) -> None:
    project = render(copie, template_repo, protocols=protocols, domains=["people"])
    for name in RESILIENCE_FILES:
        assert (project / name).is_file(), name
    for protocol, files in RESILIENCE_PROTOCOL_FILES.items():
        for name in files:
            assert (project / name).is_file() == (protocol in protocols), name
    # Its CI runs the Redis tests against a Redis service, and so can `make`.
    workflow = (project / ".github" / "workflows" / "ci.yml").read_text()
    assert "REDIS_URL:" in workflow
    assert "redis:" in workflow
    assert "test-redis:" in (project / "Makefile").read_text()
    markers = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("redis:") for marker in markers)


OBSERVABILITY_FILES = [
    "src/my_service/platform/telemetry.py",
    "src/my_service/platform/tracing.py",
    "src/my_service/platform/tracecontext.py",
    "src/my_service/platform/logs.py",
    "src/my_service/platform/metrics.py",
    "tests/unit/test_telemetry.py",
    "tests/unit/test_logs.py",
    "tests/api/test_tracing.py",
    "tests/api/test_request_id.py",
]
OBSERVABILITY_PROTOCOL_FILES = {
    # The end-to-end trace goes in through REST; gRPC has its own interceptor and proofs.
    "rest": ["tests/messaging/test_trace.py"],
    "grpc": ["src/my_service/platform/grpc_observability.py", "tests/grpc/test_observability.py"],
}


@pytest.mark.parametrize(
    "protocols", [["rest"], ["graphql"], ["grpc"], ["rest", "graphql", "grpc"]], ids="+".join
)
def test_every_project_is_observable_and_proves_it_for_each_protocol(
    copie: Any, template_repo: Path, protocols: list[str]
) -> None:
    project = render(copie, template_repo, protocols=protocols, domains=["people"])
    for name in OBSERVABILITY_FILES:
        assert (project / name).is_file(), name
    for protocol, files in OBSERVABILITY_PROTOCOL_FILES.items():
        for name in files:
            assert (project / name).is_file() == (protocol in protocols), name
    readme = (project / "README.md").read_text()
    for variable in ("OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "METRICS_ENABLED", "LOG_FORMAT"):
        assert variable in readme, variable
    assert ("grpc_server_handled_total" in readme) == ("grpc" in protocols)


@pytest.mark.parametrize("messaging", ["none", "rabbitmq", "kafka", "nats"])
def test_every_project_commits_the_asyncapi_contract_of_its_events(
    copie: Any, template_repo: Path, messaging: str
) -> None:
    project = render(
        copie, template_repo, messaging=messaging, protocols=["grpc"], domains=["line-items"]
    )
    document = yaml.safe_load((project / "contracts" / "asyncapi.yaml").read_text())
    assert document["asyncapi"] == "3.0.0"
    assert "servers" not in document, "the broker's address is deployment configuration"
    events = ["LineItemCreated", "LineItemUpdated", "LineItemDeleted"]
    assert list(document["channels"]) == [f"line_items.{event}" for event in events]
    assert list(document["components"]["messages"]) == events
    channels = document["channels"].values()
    addresses = [channel["address"] for channel in channels]
    if messaging == "nats":  # a subject per event type
        assert addresses == [f"my_service.line_items.{event}" for event in events]
    else:  # the domain's exchange, topic or name on the bus
        assert set(addresses) == {"my_service.line_items"}
    bindings = {name for channel in channels for name in channel.get("bindings", {})}
    expected = {"none": set(), "rabbitmq": {"amqp"}, "kafka": {"kafka"}, "nats": set()}
    assert bindings == expected[messaging]


README_SECTIONS = {  # protocol: (its heading, a call example)
    "rest": ("## REST\n", "curl -i -X POST http://127.0.0.1:8000/people"),
    "graphql": ("## GraphQL\n", "mutation { createPerson("),
    "grpc": ("## gRPC\n", "grpcurl -plaintext"),
}


@pytest.mark.parametrize(
    "protocols", [["rest"], ["graphql"], ["grpc"], ["rest", "graphql", "grpc"]], ids="+".join
)
def test_readme_shows_how_to_call_each_chosen_protocol(
    copie: Any, template_repo: Path, protocols: list[str]
) -> None:
    project = render(copie, template_repo, protocols=protocols, domains=["people"])
    readme = (project / "README.md").read_text()
    for protocol, (heading, example) in README_SECTIONS.items():
        assert (heading in readme) == (protocol in protocols), heading
        assert (example in readme) == (protocol in protocols), example
