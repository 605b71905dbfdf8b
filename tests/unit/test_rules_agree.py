"""answers.py is the reference rule set; copier.yml's jinja validators must agree on
every name in one corpus, and naming.py (inflect) with naming.jinja's derivations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen import answers, naming, reserved
from archgen.template import jinja_environment
from tests.conftest import REPO_ROOT
from tests.unit import corpus

COPIER_YML = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
ENV = jinja_environment(REPO_ROOT)


def jinja_validator(question: str, value: Any) -> str | None:
    rendered = ENV.from_string(COPIER_YML[question]["validator"]).render({question: value})
    return rendered.strip() or None


def jinja_macro(macro: str, *args: Any) -> str:
    call = ", ".join(json.dumps(arg) for arg in args)
    return ENV.from_string(
        f"{{% from 'includes/naming.jinja' import {macro} %}}{{{{ {macro}({call}) }}}}"
    ).render()


CASES = [
    *[("domains", [name]) for name in corpus.GOOD_DOMAINS + corpus.BAD_DOMAINS],
    *[("domains", names) for names in corpus.DOMAIN_LISTS],
    *[("project_name", name) for name in corpus.PROJECT_NAMES],
    *[("package_name", name) for name in corpus.PACKAGE_NAMES],
    *[("description", text) for text in corpus.DESCRIPTIONS],
    *[("protocols", value) for value in corpus.PROTOCOL_LISTS],
]


@pytest.mark.parametrize(("question", "value"), CASES, ids=repr)
def test_jinja_validator_gives_the_same_verdict_and_message(question: str, value: Any) -> None:
    assert jinja_validator(question, value) == answers.RULES[question](value)


def test_the_corpus_holds_both_verdicts() -> None:
    verdicts = {answers.domains_error([name]) is None for name in corpus.GOOD_DOMAINS}
    assert verdicts == {True}
    assert all(answers.domains_error([name]) for name in corpus.BAD_DOMAINS)


@pytest.mark.parametrize("name", corpus.GOOD_DOMAINS)
def test_jinja_derives_the_same_names_as_inflect(name: str) -> None:
    for macro in ("snake", "kebab", "pascal", "human", "singular", "plural"):
        assert jinja_macro(macro, name) == getattr(naming, macro)(name), macro


def test_reserved_jinja_is_written_from_reserved_py() -> None:
    on_disk = (REPO_ROOT / "includes" / "reserved.jinja").read_text()
    assert on_disk == reserved.render_jinja(), (
        "run: python -m archgen.reserved > includes/reserved.jinja"
    )


def test_reserved_lists_cover_this_interpreter() -> None:
    import builtins
    import keyword
    import re
    import sys

    identifier = re.compile(r"^[a-z][a-z0-9_]*$")
    assert {k.lower() for k in keyword.kwlist} <= reserved.KEYWORDS
    assert {n for n in dir(builtins) if identifier.match(n)} <= reserved.BUILTINS
    assert {n for n in sys.stdlib_module_names if identifier.match(n)} <= reserved.STDLIB


def test_copier_itself_rejects_a_bad_domain_with_the_same_message(
    tmp_path: Path, template_repo: Path
) -> None:
    import copier

    with pytest.raises(ValueError) as error:
        copier.run_copy(
            str(template_repo),
            str(tmp_path / "out"),
            data={"domains": ["orders", "class"]},
            defaults=True,
            quiet=True,
            vcs_ref="HEAD",
        )
    assert answers.domains_error(["orders", "class"]) in str(error.value)
    assert not (tmp_path / "out" / "src").exists()
