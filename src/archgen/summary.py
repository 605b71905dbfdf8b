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
    if answers["api_versioning"] == "header":
        versioning = f"header (Accept: application/vnd.{slug}.v1+json)"
        prefix = ""
    else:
        versioning = "url (/v1/...)"
        prefix = "/v1"
    lines = [
        f"archgen will create {dest}:",
        f"  project       {answers['project_name']} (package {answers['package_name']})",
        f"  architecture  {answers['architecture']}",
        f"  protocols     {', '.join(answers['protocols'])}; API versioning by {versioning}",
        f"  messaging     {answers['messaging']}",
        f"  python        {answers['python_version']}",
        "  domains",
    ]
    width = max(len(spec["module"]) for spec in extra["domain_specs"])
    for spec in extra["domain_specs"]:
        lines.append(
            f"    {spec['module']:<{width}}  aggregate {spec['class_name']}, "
            f"REST {prefix}/{spec['route']}, table {spec['table']}"
        )
    return "\n".join(lines)


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
            "  make run       # serves http://127.0.0.1:8000 (docs at /docs)",
        ]
    )
