"""Names in every case a generated project needs, derived from one raw name.

Plurals and singulars come from ``inflect`` (a kept English inflection library), not
from hand-written suffix rules.  Only the *last* word of a snake name is inflected:
``order_items`` -> ``order_item``.  ``includes/naming.jinja`` states the same
derivations in plain jinja for plain ``copier copy``; tests/unit/test_rules_agree.py
keeps the two agreeing over a corpus of domain names.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import inflect

_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@functools.cache
def _engine() -> inflect.engine:
    # inflect decorates its engine with typeguard's @typechecked, which re-parses and
    # re-compiles the whole class at import: 1.2 s of every `archgen new` (measured).
    # Its argument checks buy us nothing (we pass str), so import it undecorated.
    import typeguard

    checked = typeguard.typechecked

    def unchecked(target: Any = None, **_options: Any) -> Any:
        return target if target is not None else (lambda inner: inner)

    typeguard.typechecked = unchecked
    try:
        import inflect
    finally:
        typeguard.typechecked = checked
    return inflect.engine()


def snake(raw: str) -> str:
    """``"Order-Items"``, ``"OrderItems"``, ``"order items"`` -> ``"order_items"``."""
    text = _ACRONYM_BOUNDARY.sub(r"\1_\2", _CAMEL_BOUNDARY.sub(r"\1_\2", raw.strip()))
    return _NON_ALNUM.sub("_", text.lower()).strip("_")


def kebab(name: str) -> str:
    return snake(name).replace("_", "-")


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in snake(name).split("_"))


def human(name: str) -> str:
    """``"order_items"`` -> ``"Order items"``."""
    return snake(name).replace("_", " ").capitalize()


def _split_last(name: str) -> tuple[str, str]:
    head, _, last = snake(name).rpartition("_")
    return (head + "_" if head else ""), last


def _singular_word(word: str) -> str:
    engine = _engine()
    singular = engine.singular_noun(word)
    if not singular:
        return word
    # inflect strips a trailing "s" from singular words such as "bus" or "analysis";
    # a word whose own plural is more than "+s" ("buses", "analyses") is singular.
    if engine.plural_noun(word) not in (word + "s", word):
        return word
    return str(singular)


def singular(name: str) -> str:
    head, last = _split_last(name)
    return head + _singular_word(last)


def plural(name: str) -> str:
    head, last = _split_last(singular(name))
    return head + str(_engine().plural_noun(last))
