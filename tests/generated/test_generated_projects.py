"""Render projects over a stated matrix and run each one's own checks and tests:
ruff (lint + format), mypy (strict), pytest, with its integration tests against the
PostgreSQL server on this machine and its broker tests against RabbitMQ (the machine's)
or Kafka (Tansu, started here).  A skipped or xfailed test inside a generated project
fails here."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.generated.harness import (
    NATS_URL,
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    Project,
    Tansu,
    render,
)

# Every non-empty protocol set with one domain, and the full set with three awkward
# domains; both REST versionings, every supported Python, the longest domain name; each
# broker with REST and with all three protocols, the others on the in-process bus.
MATRIX = {
    "rest-py312": {"protocols": "rest", "domains": "orders", "python_version": "3.12"},
    "rest-awkward-url-rabbitmq-py311": {
        "protocols": "rest",
        "domains": "[Order-Items, people, categories, statuses]",
        "api_versioning": "url",
        "messaging": "rabbitmq",
        "python_version": "3.11",
    },
    "rest-kafka-py312": {
        "protocols": "rest",
        "domains": "[orders, payments]",
        "messaging": "kafka",
        "python_version": "3.12",
    },
    "graphql-py311": {"protocols": "graphql", "domains": "[Addresses]", "python_version": "3.11"},
    "grpc-py313": {"protocols": "grpc", "domains": "payments", "python_version": "3.13"},
    "rest-graphql-url-py311": {
        "protocols": "rest,graphql",
        "domains": "people",
        "api_versioning": "url",
        "python_version": "3.11",
    },
    "rest-grpc-nats-py313": {
        "project_name": "HTTP Gateway 2",
        "protocols": "rest,grpc",
        "domains": "CustomerLoyaltyRewards",
        "messaging": "nats",
        "python_version": "3.13",
    },
    "all-nats-py313": {
        "protocols": "[rest, graphql, grpc]",
        "domains": "[orders, payments]",
        "messaging": "nats",
        "python_version": "3.13",
    },
    "graphql-grpc-py312": {
        "protocols": "graphql,grpc",
        "domains": "categories",
        "python_version": "3.12",
    },
    "all-longest-names-url-kafka-py312": {
        "project_name": "Acme Shop Order Management Svc",  # the longest package name
        "protocols": "rest,graphql,grpc",
        "domains": "CustomerLoyaltyRewards",  # the longest domain name
        "api_versioning": "url",
        "messaging": "kafka",
        "python_version": "3.12",
    },
    "all-three-domains-rabbitmq-py311": {
        "project_name": "Acme Shop",
        "protocols": "[rest, graphql, grpc]",
        "domains": "[Order-Items, people, statuses]",
        "messaging": "rabbitmq",
        "python_version": "3.11",
    },
}
# Protocols whose template is complete; the matrix runs the sets made of them.
READY = {"rest", "graphql", "grpc"}


def protocols_of(answers: dict[str, str]) -> set[str]:
    return set(answers["protocols"].strip("[]").replace(" ", "").split(","))


MATRIX = {name: answers for name, answers in MATRIX.items() if protocols_of(answers) <= READY}
ALL = sorted(MATRIX)


def serving(protocol: str) -> list[str]:
    return [name for name in ALL if protocol in protocols_of(MATRIX[name])]


pytestmark = pytest.mark.generated


@pytest.fixture(scope="module")
def project(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    template_repo: Path,
) -> Project:
    dest = tmp_path_factory.mktemp(request.param) / "project"
    rendered = render(dest, template_repo, MATRIX[request.param])
    rendered.install()
    return rendered


@pytest.mark.parametrize("project", ALL, indirect=True)
def test_lint_format_and_types_pass(project: Project) -> None:
    # `make lint` is ruff check, ruff format --check and mypy (strict).
    output = project.run("make", "lint").stdout
    assert "ruff check" in output and "mypy" in output
    assert "Success: no issues found" in output


@pytest.mark.parametrize("project", ALL, indirect=True)
def test_make_contracts_changes_nothing_right_after_generation(project: Project) -> None:
    project.run("make", "contracts")
    assert project.run("git", "status", "--porcelain", "--", "contracts").stdout == ""


@pytest.mark.parametrize("project", serving("rest"), indirect=True)
def test_the_contract_test_fails_when_a_route_drifts(project: Project) -> None:
    rest = sorted((project.path / "src" / project.package / "domains").glob("*/api/rest.py"))[0]
    assert_drift_is_caught(
        project,
        rest,
        lambda text: re.sub(r'prefix="/([a-z-]+)"', r'prefix="/\1-renamed"', text, count=1),
        "contracts/openapi.yaml is stale: run `make contracts`",
    )


@pytest.mark.parametrize("project", serving("graphql"), indirect=True)
def test_the_schema_test_fails_when_a_graphql_field_drifts(project: Project) -> None:
    domains = project.path / "src" / project.package / "domains"
    assert_drift_is_caught(
        project,
        sorted(domains.glob("*/api/graphql.py"))[0],
        lambda text: text.replace("Bumped by every change", "Changed by every edit", 1),
        "contracts/schema.graphql is stale: run `make contracts`",
    )


# One domain, and several (with the saga's extra event): the check is the same code in all.
@pytest.mark.parametrize(
    "project", ["rest-py312", "all-three-domains-rabbitmq-py311"], indirect=True
)
def test_the_asyncapi_test_fails_when_an_event_drifts(project: Project) -> None:
    domains = project.path / "src" / project.package / "domains"
    assert_drift_is_caught(
        project,
        sorted(domains.glob("*/model.py"))[0],
        lambda text: re.sub(
            r"(class \w+Created\(DomainEvent\):\n    \w+_id: UUID\n)",
            r'\1    drift_probe: str = "drift"\n',
            text,
            count=1,
        ),
        "contracts/asyncapi.yaml is stale: run `make contracts`",
    )


def assert_drift_is_caught(
    project: Project, path: Path, edit: Callable[[str], str], message: str
) -> None:
    """Edit ``path``: the contract tests fail with ``message`` until `make contracts`."""
    original = path.read_text()
    edited = edit(original)
    assert edited != original
    path.write_text(edited)
    try:
        drifted = project.pytest("tests/contract")
        assert drifted.failures >= 1, drifted.output[-4000:]
        assert message in drifted.output
        project.run("make", "contracts")
        assert project.pytest("tests/contract").returncode == 0
    finally:
        path.write_text(original)
        project.run("git", "checkout", "--", "contracts")
        project.run("make", "contracts")


def first_proto(project: Project) -> Path:
    return sorted((project.path / "contracts" / "proto").rglob("*.proto"))[0]


@pytest.mark.parametrize("project", serving("grpc"), indirect=True)
def test_a_proto_edit_without_new_stubs_fails_until_make_contracts(project: Project) -> None:
    assert_drift_is_caught(
        project,
        first_proto(project),
        lambda text: re.sub(
            r"(  google\.protobuf\.Timestamp created_at = 3;\n)\}",
            r"\1  string drift_probe = 4;\n}",
            text,
            count=1,
        ),
        "stale stubs: run `make contracts`",
    )


@pytest.mark.parametrize("project", serving("grpc"), indirect=True)
def test_the_proto_lint_rejects_a_camel_case_field(project: Project) -> None:
    proto = first_proto(project)
    original = proto.read_text()
    edited = original.replace("  string name = 2;", "  string displayName = 2;", 1)
    assert edited != original
    proto.write_text(edited)
    try:
        project.run("make", "contracts")  # fresh stubs: only the naming rule can fail now
        linted = project.pytest("tests/contract", "-k", "named")
        assert linted.failures >= 1, linted.output[-4000:]
        assert "displayName" in linted.output
    finally:
        proto.write_text(original)
        project.run("make", "contracts")


def broker_environment(project: Project, request: pytest.FixtureRequest) -> dict[str, str]:
    """The variable that points the project's broker tests at a real broker."""
    if project.messaging == "rabbitmq":
        return {"RABBITMQ_URL": RABBITMQ_URL}
    if project.messaging == "nats":
        return {"NATS_URL": NATS_URL}
    if project.messaging == "kafka":
        kafka: Tansu = request.getfixturevalue("kafka")
        return {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    return {}


# What the broker tests of a generated project prove, by name (tests/broker/).
BROKER_TESTS = {
    "test_events_reach_a_subscriber_through_the_broker_once_each",
    "test_a_relay_killed_between_confirm_and_mark_sent_causes_one_effect",
    "test_a_reaction_that_always_fails_is_dead_lettered_after_its_attempts",
    "test_no_event_is_lost_when_the_line_to_the_broker_is_cut",
}


# What every generated project's own tests prove of its resilience, by name (each fault
# injected, tests/resilience/), and of its metrics.
RESILIENCE_TESTS = {
    "test_a_dependency_that_recovers_is_retried_until_it_answers",
    "test_the_breaker_opens_fails_fast_and_a_probe_closes_it",
    "test_a_slow_dependency_times_out_at_the_configured_time",
    "test_the_bulkhead_rejects_the_excess_at_once",
    "test_a_5xx_is_retried_until_the_service_recovers",
    "test_the_breaker_keeps_the_relay_off_a_broker_that_is_down",
    "test_an_open_breaker_makes_it_degraded_not_unready",
    "test_redis_away_makes_it_degraded_not_unready",
    "test_sigterm_flushes_the_outbox_before_exiting",
    "test_each_request_is_counted_and_timed_by_its_route",
    "test_a_pass_reports_what_is_waiting_and_for_how_long",
}


# Issue 6's proofs: every project has these; REST projects trace a request end to end
# (the broker projects through their broker too); gRPC projects prove their interceptor.
OBSERVABILITY_TESTS = {
    "test_a_request_is_a_span_named_by_its_route",
    "test_the_callers_traceparent_makes_it_a_child",
    "test_events_keep_the_trace_context_they_were_recorded_in",
    "test_a_failing_reaction_is_retried_until_it_succeeds",
    "test_each_attempt_is_a_client_span_whose_context_travels_downstream",
    "test_sigterm_exports_the_spans_still_in_memory",
    "test_the_default_sampler_follows_the_caller_and_keeps_one_trace_in_ten",
    "test_a_line_in_a_span_carries_its_trace_and_span_ids",
    "test_secrets_never_reach_the_output",
}
OBSERVABILITY_PROTOCOL_TESTS = {
    "rest": {"test_one_trace_from_the_request_to_the_reaction"},
    "grpc": {
        "test_each_call_is_counted_by_method_and_code_and_timed",
        "test_a_callers_traceparent_makes_the_span_its_child",
        "test_health_is_not_serving_while_the_database_is_away_and_serving_once_back",
    },
}


@pytest.mark.parametrize("project", ALL, indirect=True)
def test_its_tests_pass_on_sqlite_and_postgresql_with_none_skipped(
    project: Project, request: pytest.FixtureRequest
) -> None:
    report = project.pytest(
        DATABASE_URL=POSTGRES_URL, REDIS_URL=REDIS_URL, **broker_environment(project, request)
    )
    assert report.returncode == 0, report.output[-8000:]
    assert report.failures == report.errors == 0, report.output[-8000:]
    assert report.skipped == 0, (
        f"skipped or xfailed tests in a generated project:\n{report.output[-8000:]}"
    )
    on_postgres = [name for name in report.names if "postgres" in name]
    assert on_postgres, "the integration tests did not run against PostgreSQL"
    assert report.tests > len(on_postgres)
    functions = {name.split("[")[0] for name in report.names}
    assert functions >= RESILIENCE_TESTS, RESILIENCE_TESTS - functions
    observability = OBSERVABILITY_TESTS.union(
        *(
            tests
            for protocol, tests in OBSERVABILITY_PROTOCOL_TESTS.items()
            if protocol in project.protocols
        )
    )
    assert functions >= observability, observability - functions
    if project.messaging == "none":
        assert not BROKER_TESTS & set(report.names)
    else:
        assert set(report.names) >= BROKER_TESTS, "the broker tests did not run"


@pytest.mark.parametrize("project", ALL, indirect=True)
def test_without_database_url_integration_tests_are_deselected_not_skipped(
    project: Project,
) -> None:
    report = project.pytest("-m", "integration")
    assert report.tests == 0 and report.skipped == 0, report.output[-8000:]
    assert "deselected" in report.output
    if project.messaging != "none":
        report = project.pytest("-m", "broker", DATABASE_URL=POSTGRES_URL)
        assert report.tests == 0 and report.skipped == 0, report.output[-8000:]
        assert "deselected" in report.output
