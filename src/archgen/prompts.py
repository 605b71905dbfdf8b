"""The interactive flow on questionary: asks what is missing, validates as you type,
shows a summary of what will be built and asks to confirm.

Only called when stdin and stdout are terminals: questionary on a closed stdin dies
with a traceback and on a pipe reads the pipe as answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import questionary

from archgen import answers as rules
from archgen.answers import Question

Validator = Callable[[str], bool | str]


def _validator(check: Callable[[str], str | None]) -> Validator:
    def validate(text: str) -> bool | str:
        return check(text) or True

    return validate


def ask_missing(
    questions: Mapping[str, Question], given: Mapping[str, Any], template_root: Path
) -> dict[str, Any]:
    """Ask every question that applies and is not in ``given`` (checked); returns all
    answers in question order."""
    return rules.walk(
        questions, given, template_root, lambda question, default, _answers: _ask(question, default)
    )


def _ask(question: Question, default: Any) -> Any:
    if question.name == "domains":
        return ask_domains(default)
    if question.name == "protocols":
        labels = {"rest": "REST (OpenAPI)", "graphql": "GraphQL (Strawberry)", "grpc": "gRPC"}
        choices = [
            questionary.Choice(labels[p], value=p, checked=p in default) for p in rules.PROTOCOLS
        ]
        return questionary.checkbox(
            question.help,
            choices=choices,
            validate=lambda picked: bool(picked) or "pick at least one protocol",
        ).unsafe_ask()
    if question.choices:
        choices = [
            questionary.Choice(label, value=value) for value, label in question.choices.items()
        ]
        return questionary.select(question.help, choices=choices, default=str(default)).unsafe_ask()
    check = rules.RULES.get(question.name, lambda _value: None)
    return (
        questionary.text(question.help, default=str(default), validate=_validator(check))
        .unsafe_ask()
        .strip()
    )


def ask_domains(default: list[str]) -> list[str]:
    """Domains one by one, each checked as it is typed; a blank line ends the list."""
    questionary.print(
        "Domains (bounded contexts such as orders, payments): one per line, blank to finish."
        f" A blank first line keeps {', '.join(default)}.",
        style="italic",
    )
    domains: list[str] = []

    def check(text: str) -> str | None:
        if not text.strip():
            return None
        return rules.domains_error([*domains, text.strip()])

    while True:
        entered = (
            questionary.text(f"Domain {len(domains) + 1}:", validate=_validator(check))
            .unsafe_ask()
            .strip()
        )
        if not entered:
            return domains or list(default)
        domains.append(entered)


def confirm(summary: str) -> bool:
    questionary.print(summary)
    return bool(questionary.confirm("Create this project?", default=True).unsafe_ask())
