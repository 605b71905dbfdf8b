"""Render a project from this working tree and install it, for the benchmarks that
measure a generated service (bench_relay.py, bench_telemetry.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def render_and_install(project: Path, *, extras: str = "", **answers: str) -> Path:
    """`archgen new project` with `answers`, then its venv from its constraints.txt (with
    bytecode compiled, so a server's start is not spent compiling); returns its python."""
    from uv import find_uv_bin

    uv = find_uv_bin()
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    subprocess.run(
        [str(BIN / "archgen"), "new", str(project), "--defaults", "--no-git", "-y", *data],
        check=True,
        capture_output=True,
    )
    subprocess.run([uv, "venv", "-q", ".venv"], cwd=project, check=True)
    install = [uv, "pip", "install", "-q", "-p", ".venv", "--compile-bytecode"]
    subprocess.run([*install, "-c", "constraints.txt", "-e", f".{extras}"], cwd=project, check=True)
    return project / ".venv" / "bin" / "python"
