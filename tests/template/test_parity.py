"""`copier copy` of the template repository and `archgen new` give the same tree, byte
for byte, and rendering is deterministic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from archgen import __version__
from archgen.cli import main
from tests.conftest import tree

ANSWERS = {
    "project_name": "Acme Shop",
    "domains": "[Order-Items, people, categories]",
    "api_versioning": "url",
    "python_version": "3.11",
}


def data_flags() -> list[str]:
    return [arg for key, value in ANSWERS.items() for arg in ("--data", f"{key}={value}")]


def archgen_new(dest: Path, template_repo: Path) -> None:
    args = ["new", str(dest), "--defaults", "--template", str(template_repo), *data_flags()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def test_copier_copy_gives_the_tree_archgen_new_gives(tmp_path: Path, template_repo: Path) -> None:
    copier = Path(sys.executable).with_name("copier")
    subprocess.run(
        [str(copier), "copy", "--defaults", "--quiet", "--vcs-ref", __version__, *data_flags(),
         str(template_repo), str(tmp_path / "by-copier")],
        check=True,
        capture_output=True,
    )
    archgen_new(tmp_path / "by-archgen", template_repo)
    by_copier, by_archgen = tree(tmp_path / "by-copier"), tree(tmp_path / "by-archgen")
    assert sorted(by_copier) == sorted(by_archgen)
    differing = [name for name in by_copier if by_copier[name] != by_archgen[name]]
    assert differing == []
    assert (tmp_path / "by-archgen" / ".git").is_dir()


def test_rendering_twice_gives_identical_trees(tmp_path: Path, template_repo: Path) -> None:
    archgen_new(tmp_path / "one", template_repo)
    archgen_new(tmp_path / "two", template_repo)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
