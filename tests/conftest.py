"""Shared fixtures: a git repository of the template as it is in this work tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from archgen import __version__
from archgen.template import export_template

REPO_ROOT = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=archgen-tests", "-c", "user.email=tests@archgen.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def make_template_repo(into: Path, tag: str = __version__) -> Path:
    """A git repository holding this work tree's template, committed and tagged."""
    export_template(REPO_ROOT, into)
    git(into, "init", "-q")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "template")
    git(into, "tag", tag)
    return into


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: tests that change the template make their own with make_template_repo."""
    return make_template_repo(tmp_path_factory.mktemp("template-repo") / "archgen")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (outside .git), by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
