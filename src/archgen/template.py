"""Where archgen's copier template lives, and a jinja environment like copier's.

An installed archgen carries the template inside the package (``archgen/_template``,
placed there by the wheel build); a source checkout uses the repository root.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from archgen import __version__

# The repository `copier update` pulls template improvements from; recorded as
# `_src_path` in every generated project.  `--template` or ARCHGEN_TEMPLATE_URL
# override it (a fork, a mirror, or a local clone in tests).
CANONICAL_TEMPLATE_URL = "https://github.com/archgen-dev/archgen.git"
TEMPLATE_PARTS = ("copier.yml", "includes", "template")


def template_root() -> Path:
    packaged = Path(__file__).parent / "_template"
    if (packaged / "copier.yml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "copier.yml").is_file():
        return checkout
    raise FileNotFoundError("archgen's template is missing from this installation")


def template_url() -> str:
    return os.environ.get("ARCHGEN_TEMPLATE_URL") or CANONICAL_TEMPLATE_URL


def template_ref() -> str:
    """The git tag of the template this archgen carries: its own version."""
    return __version__


def export_template(root: Path, into: Path) -> Path:
    """Copy the template's files into a plain (non-git) folder for copier to read.

    Rendering from a git checkout would make copier snapshot uncommitted changes and
    record a commit; a plain folder renders exactly the files, the same way installed
    and source archgen alike.
    """
    into.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        source = root / part
        if source.is_dir():
            shutil.copytree(
                source, into / part, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
            )
        else:
            shutil.copy2(source, into / part)
    return into


@functools.cache
def jinja_environment(root: Path) -> SandboxedEnvironment:
    """The environment copier renders copier.yml's expressions in (same loader root and
    default extension), so archgen can compute defaults exactly as copier will.

    One per template root: it caches the compiled includes every default, `when` and
    summary renders, which would otherwise be parsed again for each question."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
