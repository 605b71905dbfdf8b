"""Secrets out of the logs: what a log line carries is scrubbed before it is written.

Two nets, because a secret reaches a log line in two shapes:

- by name: the value of any field whose name looks secret (`password`, `api_key`,
  `Authorization`, `Set-Cookie`, `access_token`...) becomes `[REDACTED]`, at any depth
  of dicts, lists and `(name, value)` header pairs;
- inside text: a message, an exception or any other string loses the secret part of
  `password=...`, `token: ...`, `Authorization: Bearer ...` and the password of a URL
  (`postgresql+asyncpg://user:PASSWORD@host/db`).

Both err on the side of hiding: a field named `max_tokens` is redacted too.  Objects of
other types are logged as their (scrubbed) repr, which is how they would be rendered
anyway.
"""

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[REDACTED]"
# Nesting deeper than this is rendered as scrubbed text rather than walked.
_MAX_DEPTH = 8

# Names of secrets; a field or a `name=value` in text whose name contains one is hidden.
_SENSITIVE_NAMES = (
    r"pass(?:word|wd|phrase)|secret|token|api[-_]?key|authori[sz]ation|cookie"
    r"|credential|private[-_]?key"
)
_SENSITIVE_KEY = re.compile(rf"{_SENSITIVE_NAMES}|^auth$", re.IGNORECASE)
# The separator between a name and its value: `=`, `:` (quotes around the name allowed, as
# in JSON and reprs), or the comma of a `('name', 'value')` pair.
_SEPARATOR = r"""(?:["']?\s*[:=]|["']\s*,)\s*"""
_QUOTED = r"""b?"[^"]*"|b?'[^']*'"""
# Authorization schemes: the credentials follow them (`Authorization: Bearer <token>`).
_SCHEMES = r"(?:bearer|basic|digest|negotiate|token|apikey)\s+"
_SENSITIVE_TEXT = re.compile(
    rf"""
    (?P<cookies>\b(?:set-)?cookie{_SEPARATOR})(?:{_QUOTED}|[^\r\n"']+)  # to the line's end
    | (?P<named>(?:{_SENSITIVE_NAMES})[\w-]*{_SEPARATOR})
        (?:{_QUOTED}|(?:{_SCHEMES})?[^\s"',;&)}}\]]+)
    | (?P<bearer>\bbearer\s+)[\w.~+/-]+=*
    | (?P<url>\b[a-z][a-z0-9+.-]*://[^\s:/?#@'"]*:)[^\s/?#'"]+(?=@)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Each match of _SENSITIVE_TEXT contains one of these (lowercased).
_HINTS = ("pass", "secret", "token", "key", "auth", "cookie", "credential", "bearer", "://")

# Whether a field name is secret, remembered: a service logs few distinct names.
_secret_keys: dict[str, bool] = {}
_MAX_REMEMBERED = 4096


def is_secret_name(name: object) -> bool:
    """Whether a field (or header) called `name` holds a secret."""
    if isinstance(name, bytes | bytearray):
        name = name.decode("latin-1")
    if not isinstance(name, str):
        return False
    known = _secret_keys.get(name)
    if known is None:
        known = _SENSITIVE_KEY.search(name) is not None
        if len(_secret_keys) < _MAX_REMEMBERED:
            _secret_keys[name] = known
    return known


def scrub_text(text: str) -> str:
    """`text` with the secret parts of `name=value` pairs, headers and URLs hidden."""
    # Most lines hold none of the words the pattern needs: a few substring tests are a
    # tenth of the pattern's cost, and a log line is written for every request.
    lowered = text.lower()
    for hint in _HINTS:
        if hint in lowered:
            return _SENSITIVE_TEXT.sub(_hide, text)
    return text


def _hide(match: re.Match[str]) -> str:
    # Each alternative captures one group: what stays (the name, the separator, the user).
    return f"{match.group(match.lastgroup or 0)}{REDACTED}"


def scrub(value: Any, depth: int = 0) -> Any:
    """`value` with every secret hidden; containers are copied, never changed in place."""
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {
                _name(key): REDACTED if is_secret_name(key) else scrub(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [_scrub_item(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return scrub_text(value.decode("utf-8", "replace"))
    return scrub_text(repr(value))


def _name(key: Any) -> Any:
    # Header names often come as bytes, which JSON cannot have as keys.
    return key.decode("latin-1") if isinstance(key, bytes | bytearray) else key


def _scrub_item(item: Any, depth: int) -> Any:
    # A `(name, value)` pair is a header or a field: ASGI and httpx headers are lists of them.
    if isinstance(item, tuple) and len(item) == 2 and is_secret_name(item[0]):
        return [_name(item[0]), REDACTED]
    return scrub(item, depth)


def scrub_fields(fields: MutableMapping[str, Any]) -> None:
    """Hide the secrets among a log event's fields, in place."""
    for key, value in fields.items():
        fields[key] = REDACTED if is_secret_name(key) else scrub(value)
