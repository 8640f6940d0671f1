"""Error messages a planner can act on: ``file: key.path rule, got value``.

Pydantic reports a location, an error type and a context; :func:`format_errors`
turns each into one line that names the file, the dotted key, the rule in
words and the value given (shortened: a list of 500 values is "a list of 500
values")::

    configs/x.toml: acute.beds must be >= 0, got -5
    configs/x.toml: acute.bedz is not a known key (did you mean 'beds'?)

A validator that needs to name a key other than its own raises
:func:`at_key`. Nothing here knows the schema: the model validated is passed in.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
"""Names that become parts of metric names (cohorts, profiles): lower case, digits and _."""


def at_key(path: str, rule: str, value: Any) -> ValueError:
    """A validator's error about another key than its own: :func:`format_errors` names ``path``."""
    return ValueError(f"@{path}@ {rule}, got {show_value(value)}")


def show_value(value: Any) -> str:
    """A value as a message shows it: short, whatever its size."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        if abs(value) < 10**15:
            return str(value)
        # str() of an int over 4300 digits raises; the size is what matters here
        digits = math.floor(value.bit_length() * math.log10(2)) + 1
        return f"a whole number of about {digits:,} digits"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        if len(value) > 8:
            return f"a list of {len(value)} values"
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_VERBS = {"must", "needs", "is", "occupies", "has"}

_RULES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "date_type": "must be a date like 2016-04-01",
    "date_parsing": "must be a date like 2016-04-01",
    "date_from_datetime_parsing": "must be a date like 2016-04-01",
    "date_from_datetime_inexact": "must be a date with no time of day",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_long": "must be at most {max_length} characters",
    "literal_error": "must be one of {expected}",
    "union_tag_invalid": "must name a distribution: dist = one of {expected_tags}",
    "union_tag_not_found": "needs a 'dist' key naming the distribution",
}


def _walk(raw: Any, loc: Sequence[Any]) -> tuple[list[str], Any, bool]:
    """Follow a pydantic error location through the input, dropping non-key parts.

    Pydantic puts union tags and validator names into locations; only the
    parts that are real keys (or list indices) of the input make the path.
    """
    path: list[str] = []
    node: Any = raw
    found = True
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            path.append(str(part))
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            path.append(f"[{part}]")
            node = node[part]
        elif (isinstance(node, Mapping) or isinstance(part, int)) and (
            isinstance(part, str) and not _is_internal(part)
        ):
            path.append(part)  # a missing or unknown key names itself
            found = False
            node = None
        # else: an internal location part (tag name, validator) - skip it
    return path, node, found


def _is_internal(part: str) -> bool:
    return "[" in part or part in {
        "lognormal",
        "exponential",
        "gamma",
        "fixed",
        "uniform",
        "empirical",
        "int",
        "str",
        "literal['unlimited']",
        "tuple",
        "function-before",
        "function-after",
    }


def _join(path: Sequence[str]) -> str:
    return ".".join(path).replace(".[", "[") or "(top level)"


def format_errors(
    exc: ValidationError, source: str, raw: Mapping[str, Any], root: type[BaseModel]
) -> list[str]:
    """One message per problem: ``file: key.path rule, got value``.

    ``root`` is the model that was validated (a scenario, an experiment); unknown
    keys are matched against its field names for a 'did you mean' hint.
    """
    messages: list[str] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        path, node, _ = _walk(raw, err["loc"])
        kind = err["type"]
        ctx = err.get("ctx") or {}
        where = _join(path)
        if kind == "extra_forbidden":
            parent = _walk(raw, err["loc"][:-1])[1]
            msg = f"{where} is not a known key"
            hint = _suggest(str(err["loc"][-1]), err, parent, root)
            if hint and hint != str(err["loc"][-1]):
                msg += f" (did you mean '{hint}'?)"
        elif kind == "missing":
            msg = f"{where} is required"
        elif kind in ("value_error", "assertion_error"):
            text = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
            if text.startswith("@"):
                where, _, text = text[1:].partition("@ ")
            given = err.get("input")
            if (
                ", got " not in text
                and not isinstance(given, Mapping)
                and show_value(given) not in text
            ):
                text += f", got {show_value(err['input'])}"
            sep = " " if text.split(" ", 1)[0] in _VERBS else ": "
            msg = f"{where}{sep}{text}"
        elif kind == "union_tag_invalid":
            rule = _RULES[kind].format(**ctx)
            msg = f"{where} {rule}, got {show_value(ctx.get('tag'))}"
        elif kind.startswith("date") and not isinstance(err.get("input"), str | dt.date):
            msg = f"{where} {_RULES['date_type']}, got {show_value(err.get('input', node))}"
        elif kind in _RULES:
            shown = {
                k: (f"{v:g}" if isinstance(v, float) else f"{v:,}" if type(v) is int else v)
                for k, v in ctx.items()
            }
            try:
                rule = _RULES[kind].format(**shown)
            except (KeyError, IndexError):
                rule = _RULES[kind]
            if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
                rule = "must be a lower-case name of letters, digits and _ (used in metric names)"
            msg = f"{where} {rule}, got {show_value(err.get('input', node))}"
        else:
            msg = f"{where}: {err['msg']}, got {show_value(err.get('input', node))}"
        if msg not in seen:
            seen.add(msg)
            messages.append(f"{source}: {msg}")
    return messages


def _suggest(key: str, err: Any, parent: Any, root: type[BaseModel]) -> str | None:
    """The nearest known key to an unknown one, from the model's field names."""
    names = _known_keys(err["loc"][:-1], root)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _known_keys(loc: Sequence[Any], root: type[BaseModel]) -> list[str]:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            if isinstance(part, str) and model is not None and hasattr(model, "model_fields"):
                # a dict of models (cohorts.NAME) or a union tag: look through it
                continue
            return []
        annotation = fields[part].annotation
        model = _inner_model(annotation)
    fields = getattr(model, "model_fields", None) or {}
    return [f.alias or name for name, f in fields.items()]


def _inner_model(annotation: Any) -> Any:
    """The model class inside Optional[...], tuple[...], dict[str, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
