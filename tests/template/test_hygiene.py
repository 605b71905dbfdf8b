"""What must never be in a rendered project: leftover jinja, caches, editor files,
the template's own git history."""

from __future__ import annotations

import re
from pathlib import Path

import copier
import pytest

from click.testing import CliRunner

from archgen import __version__, render
from archgen.cli import main
from tests.conftest import git, make_template_repo, tree

MATRIX = [
    {"domains": ["orders"]},
    {"domains": ["Order-Items", "people", "categories", "statuses"], "api_versioning": "url"},
    {"project_name": "Acme Shop", "python_version": "3.13"},
]
JINJA_LEFTOVER = re.compile(rb"\{\{|\{%|\{#")


@pytest.mark.parametrize("answers", MATRIX, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()))
def test_no_jinja_is_left_in_any_file_or_path(tmp_path: Path, template_repo: Path, answers: dict) -> None:
    copier.run_copy(str(template_repo), str(tmp_path), data=answers, defaults=True, quiet=True)
    files = tree(tmp_path)
    assert len(files) > 3
    for name, content in files.items():
        assert not JINJA_LEFTOVER.search(name.encode()), name
        assert not JINJA_LEFTOVER.search(content), name
        assert not name.endswith(".jinja"), name


def test_caches_editor_files_and_git_never_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_template_repo(tmp_path / "template")
    package = next((repo / "template" / "src").iterdir())
    junk = [
        package / "__pycache__" / "main.cpython-311.pyc",
        package / "stray.pyc",
        package / ".settings.py.swp",
        package / "settings.py~",
        repo / "template" / ".DS_Store",
        repo / "template" / ".idea" / "workspace.xml",
        repo / "template" / ".vscode" / "settings.json",
        repo / "template" / ".git" / "HEAD",
        repo / "template" / ".mypy_cache" / "x.json",
    ]
    for path in junk:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("junk")
    git(repo, "add", "-f", "-A")
    git(repo, "commit", "-q", "-m", "junk")
    git(repo, "tag", "-f", __version__)
    by_copier = tmp_path / "by-copier"
    copier.run_copy(str(repo), str(by_copier), defaults=True, quiet=True)
    assert leaked(by_copier) == []
    assert not (by_copier / ".git").exists()

    # archgen renders from plain files (an installed wheel has no git), where copier
    # sees everything on disk, the template's own .git folder included.
    monkeypatch.setattr(render, "template_root", lambda: repo)
    result = CliRunner().invoke(main, ["new", str(tmp_path / "by-archgen"), "--defaults"])
    assert result.exit_code == 0, result.output
    assert leaked(tmp_path / "by-archgen") == []
    assert (tmp_path / "by-archgen" / ".git" / "HEAD").read_text() != "junk"


def leaked(project: Path) -> list[str]:
    junk = re.compile(r"__pycache__|\.py[co]$|\.sw[po]$|~$|\.DS_Store|\.idea|\.vscode|\.mypy_cache")
    return [name for name in tree(project) if junk.search(name)]
