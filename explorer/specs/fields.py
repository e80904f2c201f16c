"""Safe parsing and checking of the values a user types, with messages a student understands.

Nothing here evaluates code: text goes through a length and nesting cap and then
``ast.literal_eval``, which only accepts Python literals. Every check raises
:class:`SpecError` naming the field, saying what was given (briefly, see :func:`show`) and what to write.
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
#: Integers with more digits than this are described by their length, not printed.
_MAX_SHOWN_DIGITS = 15


def describe(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of a value (its repr, truncated); also used to name unknown keys."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - repr of hostile objects must not escape
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: Any, limit: int = 60) -> str:
    """What the user gave, in words for a message: ``'abc'``, ``2.5``, ``nothing``, ``infinity``, ``(2,)``.

    Text keeps its quotes (escaped and truncated by :func:`describe`), giant numbers are described by their
    length and anything that is neither a number, text nor a list is not echoed at all.
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        digits = int(value.bit_length() * math.log10(2)) + 1
        if digits > _MAX_SHOWN_DIGITS:
            return f"a number with about {digits:,} digits"
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN (not a number)"
        if math.isinf(value):
            return "infinity" if value > 0 else "minus infinity"
        return describe(value, limit)
    if isinstance(value, (str, list, tuple, dict)):
        return describe(value, limit)
    return "a value of an unsupported kind"


def plural(count: int, noun: str) -> str:
    """``1 channel``, ``2 channels``, ``0 entries``."""
    if count == 1:
        return f"{count} {noun}"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{count:,} {noun[:-1]}ies"
    return f"{count:,} {noun}s"


def number(value: float) -> str:
    """A bound as a student reads it: ``64``, ``0.5``, ``1e-06``, ``2,000,000``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1_000_000 else str(value)
    return f"{value:g}"


def _with_hint(hint: str) -> str:
    return f" ({hint})" if hint else ""


def _check_brackets(text: str) -> tuple[int, str]:
    """The deepest nesting, and a problem with the brackets in words ("" when they balance)."""
    depth = max_depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return max_depth, "has a closing bracket with no opening one"
    if depth > 0:
        return max_depth, ("has a bracket that is never closed" if depth == 1
                           else f"has {depth} brackets that are never closed")
    return max_depth, ""


def parse_literal(text: str, field: str, *, expected: str = "a number or a list of numbers",
                  example: str = "64 or (1, 64)") -> Any:
    """Parse user text holding a Python/JSON literal, never executing it.

    ``expected`` (e.g. ``"a list of (num_convs, out_channels) pairs"``) and ``example`` (text that would be
    accepted) make the message when the text cannot be read.
    """
    like = f"; write it like {example}" if example else ""
    if not isinstance(text, str):
        raise SpecError(field, f"must be text holding {expected}, got {show(text)}")
    if len(text) > MAX_TEXT_LENGTH:
        raise SpecError(field, f"the text is too long: {len(text):,} characters, more than the limit of "
                               f"{MAX_TEXT_LENGTH:,}; shorten it")
    stripped = text.strip()
    if not stripped:
        raise SpecError(field, f"is empty; write {expected}{f', like {example}' if example else ''}")
    max_depth, bracket_problem = _check_brackets(stripped)
    if max_depth > MAX_NESTING:
        raise SpecError(field, f"has brackets nested too deeply: {max_depth} levels, more than the limit of "
                               f"{MAX_NESTING}{like}")
    if bracket_problem:
        raise SpecError(field, f"{show(stripped)} {bracket_problem}{like}")
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise SpecError(field, f"{show(stripped)} is not {expected}{like}") from None


def _whole_number_problem(value: Any) -> str:
    """Why a value that is not an int is not a whole number, as a short tail for a message ("" if no reason)."""
    if isinstance(value, bool):
        return "; write a number, not True or False"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return f"; write it without the decimal point ({int(value)}, not {show(value)})"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return "; write the number without quotes"
    return ""


def check_int(value: Any, field: str, *, minimum: int, maximum: int, hint: str = "", name: str = "") -> int:
    """An integer in [minimum, maximum]; bools and floats are refused.

    ``hint`` says what the number means (shown in brackets); ``name`` prefixes the message when ``field``
    covers more than this number (e.g. ``num_convs`` inside ``conv_arch[2]``).
    """
    subject = f"{name} " if name else ""
    if minimum == maximum:
        wanted = f"must be {number(minimum)}"
    elif maximum >= 2**62:
        wanted = f"must be a whole number of at least {number(minimum)}"
    else:
        wanted = f"must be a whole number between {number(minimum)} and {number(maximum)}"
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        problem = "" if isinstance(value, int) and not isinstance(value, bool) else _whole_number_problem(value)
        raise SpecError(field, f"{subject}{wanted}{_with_hint(hint)}, got {show(value)}{problem}")
    return int(value)


def check_optional_int(value: Any, field: str, *, minimum: int, maximum: int, hint: str = "") -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed (meaning "off")."""
    if value is None:
        return None
    return check_int(value, field, minimum=minimum, maximum=maximum, hint=hint or "or none to turn it off")


def _range_words(minimum: float, maximum: float, include_minimum: bool, include_maximum: bool) -> str:
    low, high = number(minimum), number(maximum)
    if include_minimum and include_maximum:
        return f"between {low} and {high}"
    low_words = f"at least {low}" if include_minimum else f"more than {low}"
    high_words = f"at most {high}" if include_maximum else f"less than {high}"
    return f"{low_words} and {high_words}"


def check_float(value: Any, field: str, *, minimum: float, maximum: float,
                include_minimum: bool = True, include_maximum: bool = True, hint: str = "") -> float:
    """A finite real number in the given range; bools are refused."""
    words = _range_words(minimum, maximum, include_minimum, include_maximum)
    wanted = f"must be a number {'' if words.startswith('between') else 'that is '}{words}{_with_hint(hint)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        tail = "; write a number, not True or False" if isinstance(value, bool) else ""
        if isinstance(value, str):
            try:
                float(value)
                tail = "; write the number without quotes"
            except ValueError:
                pass
        raise SpecError(field, f"{wanted}, got {show(value)}{tail}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(field, f"{wanted}, got {show(value)}")
    try:
        real = float(value)
    except OverflowError:  # an int beyond float range (10**400 is valid JSON): outside any range below
        real = math.inf if value > 0 else -math.inf
    low_ok = real >= minimum if include_minimum else real > minimum
    high_ok = real <= maximum if include_maximum else real < maximum
    if not (low_ok and high_ok):
        raise SpecError(field, f"{wanted}, got {show(value)}")
    return real


def check_bool(value: Any, field: str) -> bool:
    """Exactly True or False (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise SpecError(field, f"must be true or false (on or off), got {show(value)}")
    return value


def _or_list(items: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def check_choice(value: Any, field: str, choices: Sequence[Any], *, hint: str = "") -> Any:
    """One of a fixed set of values, of the same type (5.0 is not the choice 5; True is not 1)."""
    if isinstance(value, bool) or not any(type(value) is type(choice) and value == choice for choice in choices):
        options = _or_list([show(choice) for choice in choices])
        tail = _whole_number_problem(value) if not isinstance(value, int) or isinstance(value, bool) else ""
        raise SpecError(field, f"must be {options}{_with_hint(hint)}, got {show(value)}{tail}")
    return value


def check_sequence(value: Any, field: str, *, min_length: int, max_length: int, allow_text: bool = True,
                   expected: str = "a list", example: str = "", item: str = "entry",
                   item_hint: str = "") -> tuple:
    """A list/tuple (or, when allowed, literal text of one) of bounded length.

    Args:
        expected: what the value should be, in words ("a list of whole numbers").
        example: text that would be accepted, shown as the thing to write (none when empty).
        item: what one entry is, singular ("block", "number"); counts use its plural.
        item_hint: what the entries stand for, shown after exact counts ("one per conv layer").
    """
    if allow_text and isinstance(value, str):
        value = parse_literal(value, field, expected=expected, example=example)
    like = f"; write it like {example}" if example else ""
    if not isinstance(value, (list, tuple)):
        raise SpecError(field, f"{show(value)} is not {expected}{like}")
    count = len(value)
    if min_length <= count <= max_length:
        return tuple(value)
    got = "none" if count == 0 else f"{count:,}: {show(value)}"
    if min_length == max_length:
        what = plural(min_length, item).split(" ", 1)[1]
        raise SpecError(field, f"needs exactly {min_length} {what}{_with_hint(item_hint)}, got {got}")
    if count < min_length:
        raise SpecError(field, f"needs at least {plural(min_length, item)}, got {got}{like}")
    raise SpecError(field, f"has {plural(count, item)}, more than the limit of {max_length}; remove some")


def check_int_tuple(value: Any, field: str, *, min_length: int, max_length: int, minimum: int, maximum: int,
                    example: str = "(64, 128)", item: str = "number", item_hint: str = "",
                    hint: str = "") -> tuple[int, ...]:
    """A list of bounded integers (an int alone counts as a list of one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    items = check_sequence(value, field, min_length=min_length, max_length=max_length,
                           expected="a list of whole numbers", example=example, item=item, item_hint=item_hint)
    return tuple(check_int(entry, f"{field}[{index}]", minimum=minimum, maximum=maximum, hint=hint)
                 for index, entry in enumerate(items))
