"""`copier update` / `archgen update` bring template changes in and keep the user's
edits: a clean merge when they touch different hunks, conflict markers (and the file
named) when they touch the same one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from uv import find_uv_bin

from archgen import __version__
from archgen.cli import main
from tests.conftest import REPO_ROOT, git, make_template_repo

NEXT = "0.2.0"
USER_LINE = "# my own note, kept across updates\n"


def domain_file(root: Path) -> Path:
    """The template source of a domain's model module."""
    return next((root / "template" / "src").glob("*/domains/*/model.py.jinja"))


def rendered_model(project: Path) -> Path:
    return project / "src" / "my_service" / "domains" / "orders" / "model.py"


def add_note_at_the_top(source: Path) -> None:
    """A template change near the top of the file, after its jinja preamble."""
    lines = source.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("{%"))
    source.write_text("".join([*lines[:first], "# template 0.2.0 note\n", *lines[first:]]))


def release(repo: Path, tag: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"release {tag}")
    git(repo, "tag", tag)


def new_project(tmp_path: Path, repo: Path) -> Path:
    project = tmp_path / "project"
    result = CliRunner().invoke(main, ["new", str(project), "--defaults", "--template", str(repo)])
    assert result.exit_code == 0, result.output
    return project


def user_edits_model(project: Path) -> None:
    model = rendered_model(project)
    model.write_text(model.read_text() + USER_LINE)
    git(project, "commit", "-q", "-am", "my edit")


def test_update_merges_template_changes_with_user_edits(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "template")
    project = new_project(tmp_path, repo)
    user_edits_model(project)

    add_note_at_the_top(domain_file(repo))
    (repo / "template" / "CHANGELOG.md").write_text("# Changes\n")
    release(repo, NEXT)

    result = CliRunner().invoke(main, ["update", str(project)])
    assert result.exit_code == 0, result.output
    model = rendered_model(project).read_text()
    assert "# template 0.2.0 note\n" in model
    assert model.endswith(USER_LINE)
    assert "<<<<<<<" not in model
    assert (project / "CHANGELOG.md").read_text() == "# Changes\n"
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == NEXT


def test_update_shows_conflicts_and_names_the_files(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "template")
    project = new_project(tmp_path, repo)
    user_edits_model(project)

    source = domain_file(repo)
    source.write_text(source.read_text() + "# the template's own last line\n")
    release(repo, NEXT)

    result = CliRunner().invoke(main, ["update", str(project)])
    assert result.exit_code == 1
    assert "conflicts in:" in result.output
    assert "src/my_service/domains/orders/model.py" in result.output
    model = rendered_model(project).read_text()
    assert "<<<<<<<" in model and ">>>>>>>" in model
    assert USER_LINE in model and "# the template's own last line" in model


def test_update_refuses_a_folder_that_is_not_a_project(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["update", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no .copier-answers.yml" in result.output


def test_update_refuses_uncommitted_changes_and_touches_nothing(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "template")
    project = new_project(tmp_path, repo)
    model = rendered_model(project)
    model.write_text(model.read_text() + USER_LINE)
    result = CliRunner().invoke(main, ["update", str(project)])
    assert result.exit_code == 2
    assert "uncommitted changes" in result.output and "commit or stash" in result.output
    assert model.read_text().endswith(USER_LINE)


def test_adding_a_domain_by_update_keeps_applied_migrations_untouched(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "template")
    project = new_project(tmp_path, repo)
    user_edits_model(project)
    versions = project / "migrations" / "versions"
    before = {p.name: p.read_bytes() for p in versions.iterdir()}

    result = CliRunner().invoke(
        main, ["update", str(project), "--data", "domains=orders,payments,refunds"]
    )
    assert result.exit_code == 0, result.output
    after = {p.name: p.read_bytes() for p in versions.iterdir()}
    assert set(after) == set(before) | {"refunds_0001_initial.py"}
    assert all(after[name] == content for name, content in before.items())
    assert (project / "src" / "my_service" / "domains" / "refunds" / "api" / "rest.py").is_file()
    assert rendered_model(project).read_text().endswith(USER_LINE)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["domains"] == [
        "orders",
        "payments",
        "refunds",
    ]


def test_update_names_a_template_repository_without_the_recorded_tag(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "template", tag="0.0.9")
    project = new_project(tmp_path, repo)  # records this archgen's version as the tag
    result = CliRunner().invoke(main, ["update", str(project)])
    assert result.exit_code == 1
    assert f"has no tag '{__version__}'" in result.output
    assert "Traceback" not in result.output


def test_a_project_from_an_installed_wheel_updates_with_plain_copier(tmp_path: Path) -> None:
    uv = find_uv_bin()  # the `uv` test dependency; its bin folder may not be on PATH
    wheels = tmp_path / "wheels"
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(wheels), str(REPO_ROOT)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    wheel = next(wheels.glob("archgen-*.whl"))
    subprocess.run([uv, "pip", "install", "-q", "-p", str(venv), str(wheel)], check=True)

    # The installed archgen carries the template as plain files (no git at hand)...
    bundled = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import archgen.template as t; print(t.template_root())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "site-packages" in bundled and not (Path(bundled) / ".git").exists()

    repo = make_template_repo(tmp_path / "template")
    project = tmp_path / "project"
    env = {**os.environ, "ARCHGEN_TEMPLATE_URL": str(repo)}
    subprocess.run(
        [str(venv / "bin" / "archgen"), "new", str(project), "--defaults"],
        env=env,
        check=True,
        capture_output=True,
    )
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == __version__
    user_edits_model(project)

    add_note_at_the_top(domain_file(repo))
    release(repo, NEXT)

    # ...and the project it made updates with nothing but plain copier.
    subprocess.run(
        [str(venv / "bin" / "copier"), "update", "--defaults", "--quiet"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    model = rendered_model(project).read_text()
    assert "# template 0.2.0 note\n" in model and model.endswith(USER_LINE)
    assert "<<<<<<<" not in model
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == NEXT


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # copier update commits inside its scratch clones; CI machines may have no identity.
    for key, value in {
        "GIT_AUTHOR_NAME": "archgen-tests",
        "GIT_AUTHOR_EMAIL": "tests@archgen.invalid",
        "GIT_COMMITTER_NAME": "archgen-tests",
        "GIT_COMMITTER_EMAIL": "tests@archgen.invalid",
    }.items():
        monkeypatch.setenv(key, value)
