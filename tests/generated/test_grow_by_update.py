"""A project grows by `archgen update`: a protocol and a domain added to a generated
REST service give a project that still passes its own checks and tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archgen.cli import main
from tests.conftest import git
from tests.generated.harness import POSTGRES_URL, render

pytestmark = pytest.mark.generated


def test_adding_graphql_and_a_domain_by_update_keeps_the_project_green(
    tmp_path: Path, template_repo: Path
) -> None:
    project = render(tmp_path / "project", template_repo, {"domains": "orders"})
    model = project.path / "src" / "my_service" / "domains" / "orders" / "model.py"
    model.write_text(model.read_text() + "\n\n# kept across updates\n")
    git(project.path, "commit", "-q", "-am", "my edit")

    result = CliRunner().invoke(
        main,
        [
            "update",
            str(project.path),
            "-d",
            "protocols=rest,graphql",
            "-d",
            "domains=orders,refunds",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (project.path / "contracts" / "schema.graphql").is_file()
    assert (
        project.path / "src" / "my_service" / "domains" / "refunds" / "api" / "graphql.py"
    ).is_file()
    assert model.read_text().endswith("# kept across updates\n")

    project.answers["python_version"] = "3.12"
    project.install()
    project.run("make", "lint")
    report = project.pytest(DATABASE_URL=POSTGRES_URL)
    assert report.returncode == 0 and report.skipped == 0, report.output[-8000:]
    assert any("graphql" in name or "refund" in name for name in report.names)
