"""Safe parsing and checking of the values a user types, with messages a student understands.

Nothing here evaluates code: text goes through a length and nesting cap and then
``ast.literal_eval``, which only accepts Python literals. Every check raises
:class:`SpecError` naming the field, saying what was given (briefly, see :func:`show`) and what to write, in
English and, from the same values, in Simplified Chinese (``message_zh``; the ``*_zh`` arguments word a caller's
hints and names in Chinese).
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


def show(value: Any, limit: int = 60, *, zh: bool = False) -> str:
    """What the user gave, in words for a message: ``'abc'``, ``2.5``, ``nothing``, ``infinity``, ``(2,)``.

    Text keeps its quotes (escaped and truncated by :func:`describe`), giant numbers are described by their
    length and anything that is neither a number, text nor a list is not echoed at all. ``zh`` words the
    descriptions in Chinese (echoed values stay as typed).
    """
    if value is None:
        return "空值" if zh else "nothing"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        digits = int(value.bit_length() * math.log10(2)) + 1
        if digits > _MAX_SHOWN_DIGITS:
            return f"一个约 {digits:,} 位的数" if zh else f"a number with about {digits:,} digits"
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN（非数字）" if zh else "NaN (not a number)"
        if math.isinf(value):
            if zh:
                return "正无穷大" if value > 0 else "负无穷大"
            return "infinity" if value > 0 else "minus infinity"
        return describe(value, limit)
    if isinstance(value, (str, list, tuple, dict)):
        return describe(value, limit)
    return "一个不支持类型的值" if zh else "a value of an unsupported kind"


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def join_zh(*parts: str) -> str:
    """Chinese pieces joined as Chinese is typeset: a space between a Chinese character and Latin text or a
    number (``不是 VGG``, ``不小于 0 且``), none between Chinese characters or next to full-width punctuation
    (``收到的是空值``, ``）必须``). The pieces themselves are kept as they are."""
    text = ""
    for part in parts:
        if not part:
            continue
        if text and not text[-1].isspace() and not part[0].isspace() and (_is_cjk(text[-1]) != _is_cjk(part[0])) \
                and text[-1].isascii() != part[0].isascii():
            text += " "
        text += part
    return text


def got_zh(value: Any, limit: int = 60) -> str:
    """``收到的是 'abc'``, ``收到的是空值``: what the user gave, for the end of a Chinese message."""
    return join_zh("收到的是", show(value, limit, zh=True))


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


def _with_hint_zh(hint_zh: str) -> str:
    return f"（{hint_zh}）" if hint_zh else ""


def _check_brackets(text: str) -> tuple[int, str, str]:
    """The deepest nesting, and a problem with the brackets in words, English and Chinese ("" when they balance)."""
    depth = max_depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return max_depth, "has a closing bracket with no opening one", "有一个右括号没有对应的左括号"
    if depth > 0:
        if depth == 1:
            return max_depth, "has a bracket that is never closed", "有一个括号没有闭合"
        return max_depth, f"has {depth} brackets that are never closed", f"有 {depth} 个括号没有闭合"
    return max_depth, "", ""


#: What :func:`parse_literal` expects by default (a number box or a list box), in both languages.
_DEFAULT_EXPECTED = "a number or a list of numbers"
_DEFAULT_EXPECTED_ZH = "一个数或一组数"


def _like_zh(example: str) -> str:
    return f"；请写成 {example} 这样的形式" if example else ""


def parse_literal(text: str, field: str, *, expected: str = _DEFAULT_EXPECTED,
                  example: str = "64 or (1, 64)", expected_zh: str = "") -> Any:
    """Parse user text holding a Python/JSON literal, never executing it.

    ``expected`` (e.g. ``"a list of (num_convs, out_channels) pairs"``) and ``example`` (text that would be
    accepted) make the message when the text cannot be read; ``expected_zh`` is ``expected`` in Chinese.
    """
    if not expected_zh:
        expected_zh = _DEFAULT_EXPECTED_ZH if expected == _DEFAULT_EXPECTED else expected
    example_zh = "64 或 (1, 64)" if example == "64 or (1, 64)" else example
    like = f"; write it like {example}" if example else ""
    like_zh = _like_zh(example_zh)
    if not isinstance(text, str):
        raise SpecError(field, f"must be text holding {expected}, got {show(text)}",
                        f"必须是写有{expected_zh}的文本，{got_zh(text)}")
    if len(text) > MAX_TEXT_LENGTH:
        raise SpecError(field, f"the text is too long: {len(text):,} characters, more than the limit of "
                               f"{MAX_TEXT_LENGTH:,}; shorten it",
                        f"文本太长：{len(text):,} 个字符，超过了上限 {MAX_TEXT_LENGTH:,}；请缩短")
    stripped = text.strip()
    if not stripped:
        raise SpecError(field, f"is empty; write {expected}{f', like {example}' if example else ''}",
                        f"是空的；请填写{expected_zh}{f'，例如 {example_zh}' if example else ''}")
    max_depth, bracket_problem, bracket_problem_zh = _check_brackets(stripped)
    if max_depth > MAX_NESTING:
        raise SpecError(field, f"has brackets nested too deeply: {max_depth} levels, more than the limit of "
                               f"{MAX_NESTING}{like}",
                        f"括号嵌套太深：{max_depth} 层，超过了上限 {MAX_NESTING}{like_zh}")
    if bracket_problem:
        raise SpecError(field, f"{show(stripped)} {bracket_problem}{like}",
                        join_zh(show(stripped, zh=True), bracket_problem_zh) + like_zh)
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise SpecError(field, f"{show(stripped)} is not {expected}{like}",
                        join_zh(show(stripped, zh=True), "不是", expected_zh) + like_zh) from None


def _whole_number_problem(value: Any, *, zh: bool = False) -> str:
    """Why a value that is not an int is not a whole number, as a short tail for a message ("" if no reason)."""
    if isinstance(value, bool):
        return "；请写数字，而不是 True 或 False" if zh else "; write a number, not True or False"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        if zh:
            return f"；去掉小数点（写 {int(value)}，而不是 {show(value)}）"
        return f"; write it without the decimal point ({int(value)}, not {show(value)})"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return "；数字不要加引号" if zh else "; write the number without quotes"
    return ""


def check_int(value: Any, field: str, *, minimum: int, maximum: int, hint: str = "", name: str = "",
              hint_zh: str = "", name_zh: str = "") -> int:
    """An integer in [minimum, maximum]; bools and floats are refused.

    ``hint`` says what the number means (shown in brackets); ``name`` prefixes the message when ``field``
    covers more than this number (e.g. ``num_convs`` inside ``conv_arch[2]``). ``hint_zh`` and ``name_zh`` are
    the same in Chinese.
    """
    subject = f"{name} " if name else ""
    subject_zh = name_zh or name
    if minimum == maximum:
        wanted = f"must be {number(minimum)}"
        wanted_zh = f"必须是 {number(minimum)}"
    elif maximum >= 2**62:
        wanted = f"must be a whole number of at least {number(minimum)}"
        wanted_zh = f"必须是不小于 {number(minimum)} 的整数"
    else:
        wanted = f"must be a whole number between {number(minimum)} and {number(maximum)}"
        wanted_zh = f"必须是 {number(minimum)} 到 {number(maximum)} 之间的整数"
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        whole = isinstance(value, int) and not isinstance(value, bool)
        problem = "" if whole else _whole_number_problem(value)
        problem_zh = "" if whole else _whole_number_problem(value, zh=True)
        raise SpecError(field, f"{subject}{wanted}{_with_hint(hint)}, got {show(value)}{problem}",
                        f"{join_zh(subject_zh, wanted_zh)}{_with_hint_zh(hint_zh or hint)}，"
                        f"{got_zh(value)}{problem_zh}")
    return int(value)


def check_optional_int(value: Any, field: str, *, minimum: int, maximum: int, hint: str = "",
                       hint_zh: str = "") -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed (meaning "off")."""
    if value is None:
        return None
    return check_int(value, field, minimum=minimum, maximum=maximum, hint=hint or "or none to turn it off",
                     hint_zh=hint_zh or ("" if hint else "填 none 表示关闭"))


def _range_words(minimum: float, maximum: float, include_minimum: bool, include_maximum: bool,
                 *, zh: bool = False) -> str:
    low, high = number(minimum), number(maximum)
    if include_minimum and include_maximum:
        return f"{low} 到 {high} 之间" if zh else f"between {low} and {high}"
    if zh:
        low_words = f"不小于 {low}" if include_minimum else f"大于 {low}"
        high_words = f"不大于 {high}" if include_maximum else f"小于 {high}"
        return join_zh(low_words, "且", high_words)
    low_words = f"at least {low}" if include_minimum else f"more than {low}"
    high_words = f"at most {high}" if include_maximum else f"less than {high}"
    return f"{low_words} and {high_words}"


def check_float(value: Any, field: str, *, minimum: float, maximum: float,
                include_minimum: bool = True, include_maximum: bool = True, hint: str = "",
                hint_zh: str = "") -> float:
    """A finite real number in the given range; bools are refused."""
    words = _range_words(minimum, maximum, include_minimum, include_maximum)
    wanted = f"must be a number {'' if words.startswith('between') else 'that is '}{words}{_with_hint(hint)}"
    words_zh = _range_words(minimum, maximum, include_minimum, include_maximum, zh=True)
    wanted_zh = join_zh("必须是", words_zh, "的数") + _with_hint_zh(hint_zh or hint)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        tail = "; write a number, not True or False" if isinstance(value, bool) else ""
        tail_zh = "；请写数字，而不是 True 或 False" if isinstance(value, bool) else ""
        if isinstance(value, str):
            try:
                float(value)
                tail, tail_zh = "; write the number without quotes", "；数字不要加引号"
            except ValueError:
                pass
        raise SpecError(field, f"{wanted}, got {show(value)}{tail}",
                        f"{wanted_zh}，{got_zh(value)}{tail_zh}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(field, f"{wanted}, got {show(value)}", f"{wanted_zh}，{got_zh(value)}")
    try:
        real = float(value)
    except OverflowError:  # an int beyond float range (10**400 is valid JSON): outside any range below
        real = math.inf if value > 0 else -math.inf
    low_ok = real >= minimum if include_minimum else real > minimum
    high_ok = real <= maximum if include_maximum else real < maximum
    if not (low_ok and high_ok):
        raise SpecError(field, f"{wanted}, got {show(value)}", f"{wanted_zh}，{got_zh(value)}")
    return real


def check_bool(value: Any, field: str) -> bool:
    """Exactly True or False (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise SpecError(field, f"must be true or false (on or off), got {show(value)}",
                        f"必须是 true 或 false（开或关），{got_zh(value)}")
    return value


def _or_list(items: Sequence[str], *, zh: bool = False) -> str:
    """``a``, ``a or b``, ``a, b or c`` (``a、b 或 c``)."""
    if len(items) == 1:
        return items[0]
    if zh:
        return f"{'、'.join(items[:-1])} 或 {items[-1]}"
    return f"{', '.join(items[:-1])} or {items[-1]}"


def check_choice(value: Any, field: str, choices: Sequence[Any], *, hint: str = "", hint_zh: str = "") -> Any:
    """One of a fixed set of values, of the same type (5.0 is not the choice 5; True is not 1)."""
    if isinstance(value, bool) or not any(type(value) is type(choice) and value == choice for choice in choices):
        shown = [show(choice) for choice in choices]
        not_int = not isinstance(value, int) or isinstance(value, bool)
        tail = _whole_number_problem(value) if not_int else ""
        tail_zh = _whole_number_problem(value, zh=True) if not_int else ""
        raise SpecError(field, f"must be {_or_list(shown)}{_with_hint(hint)}, got {show(value)}{tail}",
                        f"必须是 {_or_list(shown, zh=True)}{_with_hint_zh(hint_zh or hint)}，"
                        f"{got_zh(value)}{tail_zh}")
    return value


def check_sequence(value: Any, field: str, *, min_length: int, max_length: int, allow_text: bool = True,
                   expected: str = "a list", example: str = "", item: str = "entry",
                   item_hint: str = "", expected_zh: str = "", item_zh: str = "",
                   item_hint_zh: str = "") -> tuple:
    """A list/tuple (or, when allowed, literal text of one) of bounded length.

    Args:
        expected: what the value should be, in words ("a list of whole numbers").
        example: text that would be accepted, shown as the thing to write (none when empty).
        item: what one entry is, singular ("block", "number"); counts use its plural.
        item_hint: what the entries stand for, shown after exact counts ("one per conv layer").
        expected_zh, item_zh, item_hint_zh: the same in Chinese; ``item_zh`` follows a count with its measure
            word ("个块": "9 个块"; "项" by default).
    """
    if not expected_zh:
        expected_zh = "一个列表" if expected == "a list" else expected
    if not item_zh:
        item_zh = "项" if item == "entry" else item
    if allow_text and isinstance(value, str):
        value = parse_literal(value, field, expected=expected, example=example, expected_zh=expected_zh)
    like = f"; write it like {example}" if example else ""
    like_zh = _like_zh(example)
    if not isinstance(value, (list, tuple)):
        raise SpecError(field, f"{show(value)} is not {expected}{like}",
                        join_zh(show(value, zh=True), "不是", expected_zh) + like_zh)
    count = len(value)
    if min_length <= count <= max_length:
        return tuple(value)
    got = "none" if count == 0 else f"{count:,}: {show(value)}"
    got_zh = "收到的是空列表" if count == 0 else f"收到 {count:,} 个：{show(value, zh=True)}"
    if min_length == max_length:
        what = plural(min_length, item).split(" ", 1)[1]
        raise SpecError(field, f"needs exactly {min_length} {what}{_with_hint(item_hint)}, got {got}",
                        f"需要正好 {min_length} {item_zh}{_with_hint_zh(item_hint_zh or item_hint)}，{got_zh}")
    if count < min_length:
        raise SpecError(field, f"needs at least {plural(min_length, item)}, got {got}{like}",
                        f"至少需要 {min_length:,} {item_zh}，{got_zh}{like_zh}")
    raise SpecError(field, f"has {plural(count, item)}, more than the limit of {max_length}; remove some",
                    f"有 {count:,} {item_zh}，超过了上限 {max_length}；请删去一些")


def check_int_tuple(value: Any, field: str, *, min_length: int, max_length: int, minimum: int, maximum: int,
                    example: str = "(64, 128)", item: str = "number", item_hint: str = "",
                    hint: str = "", item_zh: str = "", item_hint_zh: str = "", hint_zh: str = "") -> tuple[int, ...]:
    """A list of bounded integers (an int alone counts as a list of one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    items = check_sequence(value, field, min_length=min_length, max_length=max_length,
                           expected="a list of whole numbers", example=example, item=item, item_hint=item_hint,
                           expected_zh="一组整数", item_zh=item_zh or ("个数" if item == "number" else ""),
                           item_hint_zh=item_hint_zh)
    return tuple(check_int(entry, f"{field}[{index}]", minimum=minimum, maximum=maximum, hint=hint, hint_zh=hint_zh)
                 for index, entry in enumerate(items))
