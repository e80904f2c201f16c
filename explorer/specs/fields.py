"""Safe parsing and checking of the values a user types.

Nothing here evaluates code: text goes through a length and nesting cap and then
``ast.literal_eval``, which only accepts Python literals. Every check raises
:class:`SpecError` naming the field.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Sequence

from .errors import SpecError

#: Longest text accepted for one literal (a conv_arch, a table cell).
MAX_TEXT_LENGTH = 10_000
#: Deepest bracket nesting accepted in literal text.
MAX_NESTING = 8


def describe(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of a value for error messages."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - repr of hostile objects must not escape
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_literal(text: str, field: str) -> Any:
    """Parse user text holding a Python/JSON literal, never executing it."""
    if not isinstance(text, str):
        raise SpecError(field, f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise SpecError(field, f"text is too long ({len(text)} characters, at most {MAX_TEXT_LENGTH})")
    stripped = text.strip()
    if not stripped:
        raise SpecError(field, "is empty")
    depth = max_depth = 0
    for char in stripped:
        if char in "([{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif char in ")]}":
            depth -= 1
    if max_depth > MAX_NESTING:
        raise SpecError(field, f"nested too deeply ({max_depth} levels, at most {MAX_NESTING})")
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) and exc.msg else type(exc).__name__
        raise SpecError(field, f"could not read {describe(stripped)} as a literal ({detail})") from None


def check_int(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    """An integer in [minimum, maximum]; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, f"expected an integer, got {describe(value)}")
    if not minimum <= value <= maximum:
        raise SpecError(field, f"must be between {minimum} and {maximum}, got {describe(value)}")
    return int(value)


def check_optional_int(value: Any, field: str, *, minimum: int, maximum: int) -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed (meaning "off")."""
    return None if value is None else check_int(value, field, minimum=minimum, maximum=maximum)


def check_float(value: Any, field: str, *, minimum: float, maximum: float,
                include_minimum: bool = True, include_maximum: bool = True) -> float:
    """A finite real number in the given range; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field, f"expected a number, got {describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(field, f"must be a finite number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (10**400 is valid JSON): outside any range below
        number = math.inf if value > 0 else -math.inf
    low_ok = number >= minimum if include_minimum else number > minimum
    high_ok = number <= maximum if include_maximum else number < maximum
    if not (low_ok and high_ok):
        low = "[" if include_minimum else "("
        high = "]" if include_maximum else ")"
        raise SpecError(field, f"must be in {low}{minimum:g}, {maximum:g}{high}, got {describe(value)}")
    return number


def check_bool(value: Any, field: str) -> bool:
    """Exactly True or False (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise SpecError(field, f"expected true or false, got {describe(value)}")
    return value


def check_choice(value: Any, field: str, choices: Sequence[Any]) -> Any:
    """One of a fixed set of values, of the same type (5.0 is not the choice 5; True is not 1)."""
    if isinstance(value, bool) or not any(type(value) is type(choice) and value == choice for choice in choices):
        options = ", ".join(repr(choice) for choice in choices)
        raise SpecError(field, f"must be one of {options}, got {describe(value)}")
    return value


def check_sequence(value: Any, field: str, *, min_length: int, max_length: int,
                   allow_text: bool = True) -> tuple:
    """A list/tuple (or, when allowed, literal text of one) of bounded length."""
    if allow_text and isinstance(value, str):
        value = parse_literal(value, field)
    if isinstance(value, (list, tuple)):
        if not min_length <= len(value) <= max_length:
            raise SpecError(field, f"needs between {min_length} and {max_length} entries, got {len(value)}")
        return tuple(value)
    raise SpecError(field, f"expected a list, got {describe(value)}")


def check_int_tuple(value: Any, field: str, *, min_length: int, max_length: int,
                    minimum: int, maximum: int) -> tuple[int, ...]:
    """A list of bounded integers (an int alone counts as a list of one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    items = check_sequence(value, field, min_length=min_length, max_length=max_length)
    return tuple(check_int(item, f"{field}[{index}]", minimum=minimum, maximum=maximum)
                 for index, item in enumerate(items))
