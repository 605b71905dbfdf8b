"""What archgen tells a person: the summary before rendering and the next steps after."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archgen.render import Rendered
from archgen.template import jinja_environment


def computed(answers: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """The values copier.yml computes from the answers, rendered by the same jinja, so
    the summary shows exactly what copier will render."""
    env = jinja_environment(root)
    specs = env.from_string(
        "{% from 'includes/naming.jinja' import domain_specs %}{{ domain_specs(domains) }}"
    ).render(**answers)
    slug = env.from_string(
        "{% from 'includes/naming.jinja' import kebab %}{{ kebab(project_name) }}"
    ).render(**answers)
    return {"domain_specs": json.loads(specs), "project_slug": slug}


def describe(dest: Path, answers: Mapping[str, Any], root: Path) -> str:
    extra = computed(answers, root)
    slug = extra["project_slug"]
    protocols = list(answers["protocols"])
    prefix = ""
    if "rest" in protocols and answers.get("api_versioning", "header") == "header":
        protocols[protocols.index("rest")] = (
            f"rest (versioned by Accept: application/vnd.{slug}.v1+json)"
        )
    elif "rest" in protocols:
        protocols[protocols.index("rest")] = "rest (versioned by URL: /v1/...)"
        prefix = "/v1"
    lines = [
        f"archgen will create {dest}:",
        f"  project       {answers['project_name']} (package {answers['package_name']})",
        f"  architecture  {answers['architecture']}",
        f"  protocols     {', '.join(protocols)}",
        f"  messaging     {answers['messaging']}",
        f"  python        {answers['python_version']}",
        "  domains",
    ]
    width = max(len(spec["module"]) for spec in extra["domain_specs"])
    for spec in extra["domain_specs"]:
        surfaces = [f"aggregate {spec['class_name']}"]
        if "rest" in answers["protocols"]:
            surfaces.append(f"REST {prefix}/{spec['route']}")
        if "graphql" in answers["protocols"]:
            surfaces.append(f"GraphQL {spec['class_name']}")
        if "grpc" in answers["protocols"]:
            surfaces.append(f"gRPC {spec['class_name']}Service")
        surfaces.append(f"table {spec['table']}")
        lines.append(f"    {spec['module']:<{width}}  {', '.join(surfaces)}")
    return "\n".join(lines)


def _serves(answers: Mapping[str, Any]) -> str:
    protocols = answers["protocols"]
    served = []
    if "rest" in protocols:
        served.append("REST on http://127.0.0.1:8000 (docs at /docs)")
    if "graphql" in protocols:
        served.append("GraphQL at http://127.0.0.1:8000/graphql")
    if "grpc" in protocols:
        served.append("gRPC on 127.0.0.1:50051")
    return "serves " + ", ".join(served)


def next_steps(result: Rendered, answers: Mapping[str, Any]) -> str:
    python = f"python{answers['python_version']}"
    git = "a git repository with one commit" if result.committed else "no git repository"
    return "\n".join(
        [
            f"Created {result.path} ({result.files} files, {git}).",
            "Next steps:",
            f"  cd {result.path}",
            f"  {python} -m venv .venv && . .venv/bin/activate",
            "  make install   # the service and its dev tools, at the pinned versions",
            "  make lint      # ruff and mypy (strict)",
            "  make test      # unit, API, contract and migration tests",
            f"  make run       # {_serves(answers)}",
            *_broker_steps(answers),
        ]
    )


# How to move the events of a generated service onto its broker: an example URL each.
BROKER_EXAMPLES = {
    "rabbitmq": "RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/",
    "kafka": "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092",
    "nats": "NATS_URL=nats://127.0.0.1:4222",
}


def _broker_steps(answers: Mapping[str, Any]) -> list[str]:
    example = BROKER_EXAMPLES.get(answers.get("messaging", "none"))
    if example is None:
        return []
    return [
        f"  {example} make run   # events through {answers['messaging']}, not the in-process bus",
        f"  {example} make test  # adds the broker tests (tests/broker)",
    ]
