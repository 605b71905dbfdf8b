"""One answers model: the questions (read from copier.yml), defaults, normalisation and
validation.

The validation rules here are the reference.  copier.yml's validators state the same
rules in plain jinja (``includes/naming.jinja``) so that plain ``copier copy`` enforces
them too; tests/unit/test_rules_agree.py runs one corpus through both.  Messages are
identical on both sides: one line naming the bad value and what to do instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archgen import naming, reserved
from archgen.template import jinja_environment

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
# The longest generated identifier is the child table's foreign key name,
# fk_<plural>_notes_<singular>_id: about 2x the domain + 15, within PostgreSQL's 63.
# Alembic's version_num column (32) bounds the revision id <domain>_0001 too.
DOMAIN_MAX_LENGTH = 24
# Generated imports are written to stay formatted up to this length (tested).
PACKAGE_MAX_LENGTH = 30
PROTOCOLS = ("rest", "graphql", "grpc")


class AnswerError(ValueError):
    """A bad answer; the message is one line a person can act on."""


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    help: str
    default: Any
    choices: dict[str, str] = field(default_factory=dict)  # value -> label
    when: Any = True  # copier's `when`: a bool or a jinja expression of earlier answers

    @property
    def is_list(self) -> bool:
        return self.type == "yaml" and isinstance(self.default, list)


def load_questions(template_root: Path) -> dict[str, Question]:
    """The questions users answer, in copier.yml's order (computed ones left out)."""
    config = yaml.safe_load((template_root / "copier.yml").read_text(encoding="utf-8"))
    questions: dict[str, Question] = {}
    for name, spec in config.items():
        if name.startswith("_") or spec.get("when") is False:
            continue
        raw_choices = spec.get("choices") or {}
        if isinstance(raw_choices, list):
            raw_choices = {str(choice): choice for choice in raw_choices}
        questions[name] = Question(
            name=name,
            type=spec.get("type", "str"),
            help=spec.get("help", name),
            default=spec.get("default"),
            choices={str(value): str(label) for label, value in raw_choices.items()},
            when=spec.get("when", True),
        )
    return questions


# ---- normalisation ---------------------------------------------------------------


def parse_value(question: Question, text: str) -> Any:
    """A ``--data KEY=VALUE`` string as the question's type.

    Lists may be YAML/JSON (``[a, b]``) or comma-separated (``a,b``); a list given as
    one string must never reach copier, which would render one folder per character.
    """
    if not question.is_list:
        return text
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = yaml.safe_load(stripped)
        except yaml.YAMLError as error:
            raise AnswerError(
                f"{question.name} {stripped!r} is not a valid YAML list ({_yaml_problem(error)}); "
                "write it as [a, b] or a,b"
            ) from None
        return value
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or "unreadable"
    mark = getattr(error, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def normalise(question: Question, value: Any) -> Any:
    """Coerce an answer from an answers file or ``--data`` to the question's type."""
    if question.is_list and isinstance(value, str):
        return parse_value(question, value)
    if question.type == "str" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML reads `python_version: 3.12` as a float
    return value


# ---- validation rules (the reference; includes/naming.jinja is their twin) ---------


def _show(value: Any) -> str:
    return json.dumps(value)


def _reserved_error(kind: str, raw: Any, name: str) -> str | None:
    if name in reserved.KEYWORDS:
        return f"{kind} {_show(raw)} is a Python keyword; choose another name"
    if name in reserved.BUILTINS:
        return (
            f"{kind} {_show(raw)} would shadow the Python builtin {_show(name)}; "
            "choose another name"
        )
    if name in reserved.STDLIB:
        return (
            f"{kind} {_show(raw)} would shadow the standard-library module {_show(name)}; "
            "choose another name"
        )
    if name in reserved.DEPENDENCIES:
        return (
            f"{kind} {_show(raw)} would shadow the dependency module {_show(name)}; "
            "choose another name"
        )
    if name in reserved.LAYOUT:
        return (
            f"{kind} {_show(raw)} is a name the generated project already uses ({_show(name)}); "
            "choose another name"
        )
    return None


def _identifier_error(kind: str, raw: Any, name: str, max_length: int) -> str | None:
    if not isinstance(raw, str):
        return f"{kind} {_show(raw)} must be a string"
    if not raw.isascii():
        return (
            f"{kind} {_show(raw)} has non-ASCII characters; use ASCII letters, digits, '-' or '_'"
        )
    if not name:
        return f'{kind} {_show(raw)} has no letters or digits; use a name such as "orders"'
    if not IDENTIFIER.match(name):
        return (
            f"{kind} {_show(raw)} becomes {_show(name)}, which does not start with a letter; "
            "start it with a letter"
        )
    if len(name) > max_length:
        return f"{kind} {_show(raw)} is longer than {max_length} characters; use a shorter name"
    return _reserved_error(kind, raw, name)


def domain_error(raw: Any) -> str | None:
    error = _identifier_error(
        "domain", raw, naming.snake(raw) if isinstance(raw, str) else "", DOMAIN_MAX_LENGTH
    )
    if error is None and (cls := naming.pascal(naming.singular(raw))) in reserved.CLASS_NAMES:
        return (
            f"domain {_show(raw)} gets the class name {_show(cls)}, which the generated "
            "code already uses; choose another name"
        )
    return error


def domains_error(domains: Any) -> str | None:
    if not isinstance(domains, list):
        return f'domains {_show(domains)} must be a list of names, e.g. ["orders", "payments"]'
    if not domains:
        return 'domains is empty; give at least one domain, e.g. ["orders"]'
    seen: dict[str, str] = {}
    for raw in domains:
        if error := domain_error(raw):
            return error
        key = naming.singular(raw)
        if key in seen:
            return (
                f"domain {_show(raw)} names the same thing as {_show(seen[key])}; "
                "remove one of them"
            )
        seen[key] = raw
    classes = {raw: naming.pascal(naming.singular(raw)) for raw in domains}
    for raw in domains:
        for other in domains:
            derived = [classes[other] + suffix for suffix in reserved.TYPE_SUFFIXES]
            if raw != other and classes[raw] in derived:
                return (
                    f"domain {_show(raw)} gets the class name {_show(classes[raw])}, "
                    f"a type {_show(other)} already defines; choose another name"
                )
            if naming.plural(raw) == naming.plural(other) + "_notes":
                return (
                    f"domain {_show(raw)} clashes with the notes table of {_show(other)}; "
                    "choose another name"
                )
    return None


def project_name_error(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return f'project_name {_show(raw)} is empty; give a name such as "Acme Shop"'
    if not raw.isascii():
        return (
            f"project_name {_show(raw)} has non-ASCII characters; "
            "use ASCII letters, digits, spaces, '-' or '_'"
        )
    if not re.match(r"^[a-z]", naming.snake(raw)):
        return f'project_name {_show(raw)} must start with a letter; e.g. "Acme Shop"'
    return None


def package_name_error(raw: Any) -> str | None:
    if isinstance(raw, str) and raw != naming.snake(raw):
        return (
            f"package_name {_show(raw)} is not a lowercase Python identifier; "
            f"use {_show(naming.snake(raw))}"
        )
    return _identifier_error(
        "package_name", raw, raw if isinstance(raw, str) else "", PACKAGE_MAX_LENGTH
    )


def description_error(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return "description is empty; give one line saying what the service does"
    if "\n" in raw:
        return "description must be one line"
    return None


def protocols_error(protocols: Any) -> str | None:
    if not isinstance(protocols, list) or not protocols:
        return f'protocols {_show(protocols)} must be a non-empty list, e.g. ["rest"]'
    seen: list[str] = []
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            offered = _show(list(PROTOCOLS))
            return f"protocol {_show(protocol)} is not offered; choose from {offered}"
        if protocol in seen:
            return f"protocol {_show(protocol)} is listed twice; list each once"
        seen.append(protocol)
    return None


RULES = {
    "project_name": project_name_error,
    "package_name": package_name_error,
    "description": description_error,
    "domains": domains_error,
    "protocols": protocols_error,
}


def answer_error(question: Question, value: Any) -> str | None:
    """The first rule ``value`` breaks, or None."""
    if question.choices and str(value) not in question.choices:
        offered = ", ".join(question.choices)
        return f"{question.name} {_show(value)} is not offered; choose from {offered}"
    rule = RULES.get(question.name)
    return rule(value) if rule else None


# ---- the whole set ---------------------------------------------------------------


def default_for(question: Question, answers: Mapping[str, Any], template_root: Path) -> Any:
    """The question's default given earlier answers; copier.yml's jinja is the source."""
    default = question.default
    if isinstance(default, str) and ("{{" in default or "{%" in default):
        env = jinja_environment(template_root)
        return env.from_string(default).render(**answers)
    return default


def applies(question: Question, answers: Mapping[str, Any], template_root: Path) -> bool:
    """Whether copier would ask ``question`` after ``answers`` (its ``when``)."""
    if isinstance(question.when, str):
        rendered = jinja_environment(template_root).from_string(question.when).render(**answers)
        return rendered.strip().lower() not in {"", "false", "no", "0", "none"}
    return bool(question.when)


def check_keys(questions: Mapping[str, Question], given: Mapping[str, Any]) -> None:
    for key in given:
        if key not in questions:
            known = ", ".join(questions)
            raise AnswerError(f"unknown answer {key!r}; the answers are: {known}")


def check_given(questions: Mapping[str, Question], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with every key known, every value normalised and valid: checked before
    anything is asked, so a bad ``--data`` fails at once."""
    check_keys(questions, given)
    checked: dict[str, Any] = {}
    for name, value in given.items():
        checked[name] = normalise(questions[name], value)
        if error := answer_error(questions[name], checked[name]):
            raise AnswerError(error)
    return checked


Provide = Callable[[Question, Any, Mapping[str, Any]], Any]


def walk(
    questions: Mapping[str, Question],
    given: Mapping[str, Any],
    template_root: Path,
    provide: Provide,
) -> dict[str, Any]:
    """The answers in copier's order: ``given`` (checked) as it is; every other question
    that applies gets ``provide(question, its default, the answers so far)``."""
    answers: dict[str, Any] = {}
    for name, question in questions.items():
        if name in given:
            answers[name] = given[name]
        elif applies(question, answers, template_root):
            default = default_for(question, answers, template_root)
            answers[name] = provide(question, default, answers)
    return answers


def missing(
    questions: Mapping[str, Question], given: Mapping[str, Any], template_root: Path
) -> list[str]:
    """The questions that apply and have no answer in ``given`` (checked)."""
    absent: list[str] = []

    def note(question: Question, default: Any, _answers: Mapping[str, Any]) -> Any:
        absent.append(question.name)
        return default

    walk(questions, given, template_root, note)
    return absent


def complete(
    questions: Mapping[str, Question], given: Mapping[str, Any], template_root: Path
) -> dict[str, Any]:
    """``given`` checked and completed with valid defaults, in question order."""

    def valid_default(question: Question, default: Any, answers: Mapping[str, Any]) -> Any:
        if error := answer_error(question, default):
            if question.name == "package_name":
                error = (
                    f"{error} (it is derived from project_name "
                    f"{_show(answers['project_name'])}; or set package_name yourself)"
                )
            raise AnswerError(error)
        return default

    return walk(questions, check_given(questions, given), template_root, valid_default)


def load_answers_file(path: Path) -> dict[str, Any]:
    """An answers file: a YAML mapping; copier's own ``_`` keys are ignored."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AnswerError(f"answers file {str(path)!r} cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        problem = _yaml_problem(error)
        raise AnswerError(f"answers file {str(path)!r} is not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AnswerError(f"answers file {str(path)!r} must be a YAML mapping of answers")
    return {str(key): value for key, value in data.items() if not str(key).startswith("_")}
