"""A real interactive run of `archgen new` through a pseudo-terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import yaml

ENTER = "\r"
DOWN = "\x1b[B"
CLEAR_LINE = "\x15"  # Ctrl-U: drop the pre-filled default


def spawn(dest: Path) -> pexpect.spawn:
    # pexpect never answers prompt_toolkit's cursor-position requests; each would wait 1 s.
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "archgen", "new", str(dest)],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )


def accept(child: pexpect.spawn, *prompts: str) -> None:
    """Take the default at each of these prompts, in order."""
    for prompt in prompts:
        child.expect(prompt)
        child.send(ENTER)


def exit_status(child: pexpect.spawn) -> int | None:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_interactive_run_validates_as_you_type_then_confirms(tmp_path: Path) -> None:
    dest = tmp_path / "shop"
    child = spawn(dest)
    child.expect("human name")
    child.send(CLEAR_LINE + "Acme Shop" + ENTER)
    child.expect("Python package name")
    child.send(ENTER)  # derived default: acme_shop
    child.expect("One line")
    child.send(ENTER)
    child.expect("Domain 1:")
    child.send("class")
    child.expect("keyword")  # the error shows while typing, before Enter
    child.send(ENTER)  # refused: still on domain 1
    child.send("\x7f" * 5 + "Order-Items" + ENTER)
    child.expect("Domain 2:")
    child.send("order_items" + ENTER)
    child.expect("same thing as")
    child.send(CLEAR_LINE + "people" + ENTER)
    child.expect("Domain 3:")
    child.send(ENTER)  # blank: done
    child.expect("How the domains are deployed")
    child.send(ENTER)
    child.expect("API protocols")
    child.send(ENTER)
    child.expect("API version")
    child.send(DOWN + ENTER)  # url
    child.expect("message broker")
    child.send(ENTER)
    child.expect("Python the service")
    child.send(ENTER)
    child.expect("aggregate OrderItem, REST /v1/order-items")
    child.expect("aggregate Person, REST /v1/people")
    child.expect("Create this project")
    child.send(ENTER)
    child.expect("Next steps")
    assert exit_status(child) == 0
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Acme Shop"
    assert answers["package_name"] == "acme_shop"
    assert answers["domains"] == ["Order-Items", "people"]
    assert answers["api_versioning"] == "url"


def test_ctrl_c_at_a_prompt_writes_nothing(tmp_path: Path) -> None:
    child = spawn(tmp_path / "shop")
    child.expect("human name")
    child.sendintr()
    child.expect("nothing was written")
    assert exit_status(child) == 130
    assert list(tmp_path.iterdir()) == []


def test_declining_the_summary_writes_nothing(tmp_path: Path) -> None:
    child = spawn(tmp_path / "shop")
    accept(child, "human name", "package name", "One line", "Domain 1:", "deployed")
    accept(child, "protocols", "version", "broker", "Python the service")
    child.expect("aggregate Order, REST /orders")
    child.expect("Create this project")
    child.send("n")
    child.expect("Cancelled; nothing was written")
    assert exit_status(child) == 1
    assert list(tmp_path.iterdir()) == []


def test_choosing_graphql_only_skips_the_rest_versioning_question(tmp_path: Path) -> None:
    dest = tmp_path / "shop"
    child = spawn(dest)
    accept(child, "human name", "package name", "One line", "Domain 1:", "deployed")
    child.expect("API protocols")
    child.send(" " + DOWN + " " + ENTER)  # untick rest, tick graphql
    child.expect("message broker")  # no "How REST clients choose an API version"
    assert "API version" not in child.before
    child.send(ENTER)
    child.expect("Python the service")
    child.send(ENTER)
    child.expect("GraphQL Order")
    child.expect("Create this project")
    child.send(ENTER)
    assert exit_status(child) == 0
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["protocols"] == ["graphql"]
    assert "api_versioning" not in answers
