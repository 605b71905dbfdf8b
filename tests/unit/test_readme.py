"""README.md's commands are the ones that are run."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def bash_blocks() -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_commands = [block for block in bash_blocks() if "pytest" in block]
    assert len(test_commands) == 1
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in ci_lines


def test_readme_has_one_command_that_installs_and_renders_on_defaults() -> None:
    assert any(
        "pip install" in b and "archgen new" in b and "--defaults" in b for b in bash_blocks()
    )
