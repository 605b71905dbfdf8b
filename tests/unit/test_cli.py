"""archgen's command line, driven through click's CliRunner (stdin is not a terminal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from archgen import __version__, render
from archgen.cli import main
from archgen.template import CANONICAL_TEMPLATE_URL


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def answers_of(project: Path) -> dict[str, object]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def assert_bad_input(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_version_from_the_script_and_the_module() -> None:
    assert run("--version").output.strip() == f"archgen, version {__version__}"
    module = subprocess.run(
        [sys.executable, "-m", "archgen", "--version"], capture_output=True, text=True, check=True
    )
    assert module.stdout.strip() == f"archgen, version {__version__}"


def test_help_explains_the_commands_and_options() -> None:
    assert {"new", "update"} <= set(run("--help").output.split())
    text = run("new", "--help").output
    for option in ("--defaults", "--data", "--answers-file", "--force", "--template", "--no-git"):
        assert option in text


def test_defaults_render_a_committed_project_that_records_its_template(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    result = run("new", str(dest), "--defaults")
    assert result.exit_code == 0, result.output
    recorded = answers_of(dest)
    assert recorded["_src_path"] == CANONICAL_TEMPLATE_URL
    assert recorded["_commit"] == __version__
    assert recorded["domains"] == ["orders", "payments"]
    log = subprocess.run(["git", "log", "--oneline"], cwd=dest, capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 1
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=dest, capture_output=True, text=True
    )
    assert status.stdout == ""
    assert f"cd {dest}" in result.output and "make test" in result.output
    assert leftovers(tmp_path) == ["svc"]


def test_template_url_is_a_setting_and_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHGEN_TEMPLATE_URL", "https://example.invalid/mirror.git")
    assert run("new", str(tmp_path / "a"), "--defaults").exit_code == 0
    assert answers_of(tmp_path / "a")["_src_path"] == "https://example.invalid/mirror.git"
    assert run("new", str(tmp_path / "b"), "--defaults", "--template", "/srv/fork").exit_code == 0
    assert answers_of(tmp_path / "b")["_src_path"] == "/srv/fork"
    (tmp_path / "clone").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run("new", "c", "--defaults", "--template", "./clone").exit_code == 0
    assert answers_of(tmp_path / "c")["_src_path"] == str(tmp_path / "clone")


@pytest.mark.parametrize(
    "value",
    ["orders,payments", "[orders, payments]", '["orders", "payments"]', " orders , payments ,"],
)
def test_list_answers_given_as_strings_become_lists(tmp_path: Path, value: str) -> None:
    result = run("new", str(tmp_path / "svc"), "--defaults", "--data", f"domains={value}")
    assert result.exit_code == 0, result.output
    assert answers_of(tmp_path / "svc")["domains"] == ["orders", "payments"]


def test_a_single_domain_string_is_one_domain_not_one_per_character(tmp_path: Path) -> None:
    result = run("new", str(tmp_path / "svc"), "--defaults", "--data", "domains=orders")
    assert result.exit_code == 0, result.output
    assert answers_of(tmp_path / "svc")["domains"] == ["orders"]
    domains = tmp_path / "svc" / "src" / "my_service" / "domains"
    assert sorted(p.name for p in domains.iterdir() if p.is_dir()) == ["orders"]


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ("domains=orders,class", ('"class"', "keyword")),
        ("domains=orders,email", ('"email"', "standard-library")),
        ("domains=orders,Orders", ('"Orders"', "same thing as", '"orders"')),
        ("domains=ørders", ('"\\u00f8rders"', "non-ASCII")),
        ("domains=[]", ("domains is empty",)),
        ("domains=[orders", ("not a valid YAML list",)),
        (
            "project_name=Email",
            ('package_name "email"', 'derived from project_name "Email"'),
        ),
        ("package_name=redis", ('"redis"', "dependency")),
        ("architecture=microservices", ('"microservices"', "choose from modular-monolith")),
        ("protocols=soap", ('"soap"', "not offered")),
        ("python_version=2.7", ('"2.7"', "choose from 3.11, 3.12, 3.13")),
        ("colour=blue", ("unknown answer 'colour'",)),
        ("domains", ("not KEY=VALUE",)),
    ],
)
def test_bad_answers_exit_2_with_one_line_and_write_nothing(
    tmp_path: Path, data: str, fragments: tuple[str, ...]
) -> None:
    result = run("new", str(tmp_path / "svc"), "--defaults", "--data", data)
    assert_bad_input(result, *fragments)
    assert leftovers(tmp_path) == []


def test_without_a_terminal_missing_answers_are_named(tmp_path: Path) -> None:
    result = run("new", str(tmp_path / "svc"), "--data", "project_name=Shop")
    assert_bad_input(result, "no terminal", "domains", "api_versioning", "--defaults")
    assert "project_name," not in result.output
    assert leftovers(tmp_path) == []


def test_a_complete_answers_file_needs_no_defaults_and_data_wins(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(
        yaml.safe_dump(
            {
                "_src_path": "ignored",
                "project_name": "Acme Shop",
                "package_name": "acme_shop",
                "description": "Sells things",
                "domains": "orders,people",
                "architecture": "modular-monolith",
                "protocols": ["rest"],
                "api_versioning": "url",
                "messaging": "none",
                "python_version": 3.12,
            }
        )
    )
    result = run("new", str(tmp_path / "svc"), "-a", str(answers), "-d", "api_versioning=header")
    assert result.exit_code == 0, result.output
    recorded = answers_of(tmp_path / "svc")
    assert recorded["domains"] == ["orders", "people"]
    assert recorded["api_versioning"] == "header"
    assert recorded["python_version"] == "3.12"
    assert recorded["_src_path"] == CANONICAL_TEMPLATE_URL


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("- a\n- b\n", "must be a YAML mapping"), ("a: [\n", "not valid YAML")],
)
def test_a_bad_answers_file_is_named(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "answers.yml").write_text(content)
    result = run("new", str(tmp_path / "svc"), "--defaults", "-a", str(tmp_path / "answers.yml"))
    assert_bad_input(result, "answers.yml", fragment)
    result = run("new", str(tmp_path / "svc"), "--defaults", "-a", str(tmp_path / "missing.yml"))
    assert_bad_input(result, "missing.yml", "cannot be read")
    assert leftovers(tmp_path) == ["answers.yml"]


def test_a_non_empty_destination_is_refused_then_taken_with_force(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "NOTES.md").write_text("mine")
    (dest / ".copier-answers.yml").write_text("mine too")
    assert_bad_input(run("new", str(dest), "--defaults"), "not empty", "--force")
    assert leftovers(dest) == [".copier-answers.yml", "NOTES.md"]
    assert (dest / ".copier-answers.yml").read_text() == "mine too"

    result = run("new", str(dest), "--defaults", "--force")
    assert result.exit_code == 0, result.output
    assert (dest / "NOTES.md").read_text() == "mine"
    assert answers_of(dest)["_commit"] == __version__


def test_an_empty_destination_folder_is_fine_even_as_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc").mkdir()
    inode = (tmp_path / "svc").stat().st_ino
    monkeypatch.chdir(tmp_path / "svc")
    assert run("new", ".", "--defaults").exit_code == 0
    assert (tmp_path / "svc").stat().st_ino == inode  # the same folder, not a replacement
    assert Path(".git").is_dir()
    assert leftovers(tmp_path) == ["svc"]


def test_a_failure_after_rendering_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_git(project: Path) -> bool:
        assert (project / ".copier-answers.yml").is_file()  # the render itself succeeded
        raise render.RenderError("git commit failed: injected")

    monkeypatch.setattr(render, "_git_init", broken_git)
    result = run("new", str(tmp_path / "deep" / "er" / "svc"), "--defaults")
    assert result.exit_code == 1
    assert "git commit failed: injected; nothing was written" in result.output
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_rendering_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import copier

    real_copy = copier.run_copy

    def interrupted(*args: object, **kwargs: object) -> object:
        real_copy(*args, **kwargs)  # a half-written temp tree exists now
        raise KeyboardInterrupt

    monkeypatch.setattr(copier, "run_copy", interrupted)
    result = run("new", str(tmp_path / "svc"), "--defaults")
    assert result.exit_code == 130
    assert "nothing was written" in result.output
    assert leftovers(tmp_path) == []


def test_a_file_as_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "svc").write_text("a file")
    assert_bad_input(run("new", str(tmp_path / "svc"), "--defaults"), "is a file")
    assert (tmp_path / "svc").read_text() == "a file"


@pytest.mark.parametrize("stdin", ["< /dev/null", "0<&-", "<<< 'Acme'"])
def test_a_closed_or_piped_stdin_never_reaches_a_prompt(tmp_path: Path, stdin: str) -> None:
    archgen = Path(sys.executable).with_name("archgen")
    script = f"{archgen} new {tmp_path / 'svc'} --data project_name=Shop {stdin}"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: no terminal to ask for: package_name, description, domains, architecture, "
        "protocols, api_versioning, messaging, python_version; pass --defaults to use their "
        "defaults, or give them with --data KEY=VALUE"
    ]
    assert leftovers(tmp_path) == []


def test_api_versioning_is_asked_and_recorded_only_with_rest(tmp_path: Path) -> None:
    result = run("new", str(tmp_path / "svc"), "--data", "protocols=graphql,grpc")
    assert_bad_input(result, "no terminal", "domains")
    assert "api_versioning" not in result.output
    result = run("new", str(tmp_path / "svc"), "--defaults", "--data", "protocols=[graphql]")
    assert result.exit_code == 0, result.output
    recorded = answers_of(tmp_path / "svc")
    assert recorded["protocols"] == ["graphql"]
    assert "api_versioning" not in recorded


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("rest,rest", "listed twice"),
        ("[]", "non-empty list"),
        ("rest,soap", '"soap" is not offered'),
    ],
)
def test_bad_protocol_sets_are_refused(tmp_path: Path, value: str, fragment: str) -> None:
    result = run("new", str(tmp_path / "svc"), "--defaults", "--data", f"protocols={value}")
    assert_bad_input(result, fragment)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("messaging", "variable"),
    [("rabbitmq", "RABBITMQ_URL="), ("kafka", "KAFKA_BOOTSTRAP_SERVERS="), ("nats", "NATS_URL=")],
)
def test_next_steps_show_how_to_put_events_on_the_chosen_broker(
    tmp_path: Path, messaging: str, variable: str
) -> None:
    with_broker = run(
        "new", str(tmp_path / "b"), "--defaults", "--no-git", "-d", f"messaging={messaging}"
    )
    without = run("new", str(tmp_path / "n"), "--defaults", "--no-git")

    assert with_broker.exit_code == 0, with_broker.output
    assert f"{variable}" in with_broker.output and "make test" in with_broker.output
    assert "in-process bus" not in without.output and variable not in without.output
    answers = (tmp_path / "b" / ".copier-answers.yml").read_text()
    assert f"messaging: {messaging}" in answers
