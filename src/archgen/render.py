"""Render a project with copier, safely: into a temp dir beside the destination, moved
into place only when everything (render, answers stamp, git init) has succeeded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from archgen.template import export_template, template_root

ANSWERS_FILE = ".copier-answers.yml"
CONFLICT_MARKER = "<<<<<<< "
VERSION_TAG = re.compile(r"v?\d+(\.\d+)*([a-z]+\d*)?")


class RenderError(RuntimeError):
    """Rendering failed; nothing was written.  The message is one line."""


class DestinationError(RenderError):
    """The destination can't take a new project (a bad value from the user)."""


@dataclass(frozen=True)
class Rendered:
    path: Path
    files: int
    committed: bool


def check_destination(dest: Path, *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise DestinationError(f"destination {str(dest)!r} is a file; give a folder path")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise DestinationError(
            f"destination {str(dest)!r} is not empty; choose a new folder, "
            "or pass --force to write into it (existing files with the same name are replaced)"
        )


def new_project(
    dest: Path,
    answers: Mapping[str, Any],
    *,
    src_url: str,
    ref: str,
    force: bool = False,
    git: bool = True,
) -> Rendered:
    """Render ``answers`` into ``dest``; all or nothing."""
    import copier  # heavy: keep `archgen --help` instant

    dest = dest.absolute()
    check_destination(dest, force=force)
    created_parent = _first_missing(dest.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.archgen-", dir=dest.parent))
    try:
        source = export_template(template_root(), work / "template")
        out = work / "project"
        try:
            copier.run_copy(
                str(source),
                str(out),
                data=dict(answers),
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
            )
        except (copier.errors.CopierError, ValueError) as error:
            raise RenderError(f"copier could not render the project: {_one_line(error)}") from None
        stamp_answers(out / ANSWERS_FILE, src_url=src_url, ref=ref)
        files = sum(1 for path in out.rglob("*") if path.is_file())
        committed = git and _git_init(out)
        _place(out, dest)
        return Rendered(path=dest, files=files, committed=committed)
    except BaseException as error:  # Ctrl-C too: nothing may be left behind
        if created_parent is not None:
            shutil.rmtree(created_parent, ignore_errors=True)
        if isinstance(error, OSError):
            raise RenderError(f"cannot write the project: {_one_line(error)}") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stamp_answers(path: Path, *, src_url: str, ref: str) -> None:
    """Record the template's git URL and tag, as ``copier copy`` from git would.

    archgen renders from the files it carries (no git at hand), so copier records a
    temp path and no commit; ``copier update`` needs the real repository and tag.
    The lines are dumped the way copier's ``to_nice_yaml`` writes them, so the file is
    byte for byte the one ``copier copy <url> --vcs-ref <tag>`` produces.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    stamped: list[str] = []
    for line in lines:
        if line.startswith("_commit:"):
            continue
        if line.startswith("_src_path:"):
            stamped.append(_yaml_line("_commit", ref))
            stamped.append(_yaml_line("_src_path", src_url))
            continue
        stamped.append(line)
    path.write_text("".join(stamped), encoding="utf-8")


def _yaml_line(key: str, value: str) -> str:
    return yaml.safe_dump(
        {key: value}, indent=4, allow_unicode=True, default_flow_style=False, width=2**16
    )


def _first_missing(path: Path) -> Path | None:
    """The outermost ancestor of ``path`` (itself included) that doesn't exist yet."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _place(out: Path, dest: Path) -> None:
    if not dest.exists():
        os.replace(out, dest)
        return
    if not any(dest.iterdir()):
        # Move the entries, not the folder: DEST may be someone's working directory.
        for item in out.iterdir():
            os.replace(item, dest / item.name)
        return
    # --force into a non-empty folder: lay the files over what is there; keep the
    # folder's own git history if it has one.
    keep_git = (dest / ".git").exists()
    for item in out.iterdir():
        if item.name == ".git" and keep_git:
            continue
        target = dest / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


def _git_init(project: Path) -> bool:
    """git init + an initial commit: ``copier update`` needs a git-tracked project."""
    if shutil.which("git") is None:
        return False
    identity: list[str] = []
    if not _git(project, "config", "user.email").stdout.strip():
        identity = ["-c", "user.name=archgen", "-c", "user.email=archgen@localhost"]
    message = "Initial commit from archgen"
    steps = {
        "init": ["init", "-q"],
        "add": ["add", "-A"],
        "commit": [
            *identity,
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "--no-verify",
            "-m",
            message,
        ],
    }
    for name, args in steps.items():
        result = _git(project, *args)
        if result.returncode != 0:
            raise RenderError(f"git {name} failed: {_one_line(result.stderr or result.stdout)}")
    return True


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


# ---- update ----------------------------------------------------------------------


def update_project(
    project: Path,
    *,
    data: Mapping[str, Any],
    vcs_ref: str | None,
    conflict: Literal["inline", "rej"],
) -> list[str]:
    """``copier update`` the project; returns the files left with conflicts."""
    import copier

    if not (project / ANSWERS_FILE).is_file():
        raise DestinationError(
            f"{str(project)!r} has no {ANSWERS_FILE}; run this in a project made by archgen"
        )
    inside = _git(project, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise DestinationError(
            f"{str(project)!r} is not a git repository; copier update merges through git: "
            "run `git init && git add -A && git commit -m init` first"
        )
    if _git(project, "status", "--porcelain").stdout.strip():
        raise DestinationError(
            f"{str(project)!r} has uncommitted changes; commit or stash them first, "
            "so the update's changes can be reviewed and undone on their own"
        )
    _check_template_reachable(project)
    try:
        copier.run_update(
            str(project),
            data=dict(data),
            defaults=True,
            overwrite=True,
            conflict=conflict,
            vcs_ref=vcs_ref,
            quiet=True,
            unsafe=False,
            skip_answered=True,
        )
    except (copier.errors.CopierError, ValueError) as error:
        raise RenderError(f"copier could not update the project: {_one_line(error)}") from None
    return conflicted_files(project)


def _check_template_reachable(project: Path) -> None:
    """Name the real problem when the recorded template or tag can't be had; copier
    would fail later with a git error about a missing revision."""
    recorded = yaml.safe_load((project / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
    url, commit = recorded.get("_src_path"), recorded.get("_commit")
    if not url:
        raise DestinationError(f"{ANSWERS_FILE} records no _src_path; set it to the template's URL")
    listing = _git(project, "ls-remote", "--tags", str(url))
    if listing.returncode != 0:
        raise RenderError(
            f"cannot read the template repository {url!r} ({_one_line(listing.stderr)}); "
            f"check the network, or point _src_path in {ANSWERS_FILE} at a reachable clone"
        )
    tags = {
        line.split("refs/tags/", 1)[-1].removesuffix("^{}") for line in listing.stdout.splitlines()
    }
    if commit and VERSION_TAG.fullmatch(str(commit)) and str(commit) not in tags:
        raise RenderError(
            f"the template repository {url!r} has no tag {commit!r}, the version this project "
            "was made from; copier needs it to tell your edits from the template's"
        )


def conflicted_files(project: Path) -> list[str]:
    status = _git(project, "status", "--porcelain", "--untracked-files=all").stdout
    conflicted = []
    for line in status.splitlines():
        name = line[3:].split(" -> ")[-1].strip('"')
        path = project / name
        if name.endswith(".rej") or (path.is_file() and _has_markers(path)):
            conflicted.append(name)
    return sorted(set(conflicted))


def _has_markers(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    return any(line.startswith(CONFLICT_MARKER) for line in text.splitlines())
