"""schemathesis against a generated REST service running as a real server process:
no 5xx, and no response that violates the committed contract."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.generated.harness import Project, render

pytestmark = pytest.mark.generated

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
VARIANTS = {
    "header": {"domains": "[orders, Order-Items]", "api_versioning": "header"},
    "url": {"domains": "[people]", "api_versioning": "url", "python_version": "3.11"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=sorted(VARIANTS))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, template_repo: Path
) -> Iterator[tuple[Project, str]]:
    project = render(
        tmp_path_factory.mktemp("st") / "project", template_repo, VARIANTS[request.param]
    )
    project.install()
    database = f"sqlite+aiosqlite:///{project.path / 'schemathesis.db'}"
    project.run("alembic", "upgrade", "heads", DATABASE_URL=database)
    port = free_port()
    log = (project.path / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(project.path / ".venv" / "bin" / "uvicorn"),
            f"{project.package}.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project.path,
        env=project.env(DATABASE_URL=database),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    logs = (project.path / "server.log").read_text()
                    raise AssertionError(f"the service did not start:\n{logs}") from None
                time.sleep(0.2)
        yield project, base
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def test_no_server_errors_and_no_contract_violations(served: tuple[Project, str]) -> None:
    project, base = served
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            "contracts/openapi.yaml",
            "--url",
            base,
            "--checks",
            CHECKS,
            "--max-examples",
            "40",
            "--seed",
            "20261125",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--no-color",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout.lower(), result.stdout[
        -3000:
    ]
