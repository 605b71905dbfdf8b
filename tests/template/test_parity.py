"""`copier copy` of the template repository and `archgen new` give the same tree, byte
for byte, and rendering is deterministic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archgen import __version__
from archgen.cli import main
from tests.conftest import tree

ANSWER_SETS = {
    "rest-url": {
        "project_name": "Acme Shop",
        "domains": "[Order-Items, people, categories]",
        "api_versioning": "url",
        "python_version": "3.11",
    },
    # api_versioning does not apply without REST: neither may ask for or record it.
    "all-but-rest": {"protocols": "[graphql, grpc]", "domains": "[people]"},
}
ANSWERS = ANSWER_SETS["rest-url"]


def data_flags(answers: dict[str, str] = ANSWERS) -> list[str]:
    return [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]


def archgen_new(dest: Path, template_repo: Path, answers: dict[str, str] = ANSWERS) -> None:
    args = ["new", str(dest), "--defaults", "--template", str(template_repo), *data_flags(answers)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("answers", sorted(ANSWER_SETS))
def test_copier_copy_gives_the_tree_archgen_new_gives(
    tmp_path: Path, template_repo: Path, answers: str
) -> None:
    copier = Path(sys.executable).with_name("copier")
    subprocess.run(
        [str(copier), "copy", "--defaults", "--quiet", "--vcs-ref", __version__, *data_flags(ANSWER_SETS[answers]),
         str(template_repo), str(tmp_path / "by-copier")],
        check=True,
        capture_output=True,
    )
    archgen_new(tmp_path / "by-archgen", template_repo, ANSWER_SETS[answers])
    by_copier, by_archgen = tree(tmp_path / "by-copier"), tree(tmp_path / "by-archgen")
    assert sorted(by_copier) == sorted(by_archgen)
    differing = [name for name in by_copier if by_copier[name] != by_archgen[name]]
    assert differing == []
    assert (tmp_path / "by-archgen" / ".git").is_dir()


def test_rendering_twice_gives_identical_trees(tmp_path: Path, template_repo: Path) -> None:
    archgen_new(tmp_path / "one", template_repo)
    archgen_new(tmp_path / "two", template_repo)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
