"""What a user can edit: one frozen, validated dataclass per family, and :func:`parse_spec`."""
from __future__ import annotations

import json
import re
from typing import Any, Mapping

from .alexnet import AlexNetSpec
from .base import ArchSpec
from .errors import SpecError
from .fields import MAX_TEXT_LENGTH, describe
from .googlenet import GoogLeNetSpec, InceptionSpec
from .nin import NiNBlockSpec, NiNSpec
from .vgg import VGGSpec, format_conv_arch, parse_conv_arch

#: Any family's spec (every family's spec class is an ArchSpec; the registry in explorer.families lists them).
Spec = ArchSpec
#: Longest JSON text accepted for a whole spec.
MAX_JSON_LENGTH = 100_000


def parse_spec(data: Mapping[str, Any] | str | ArchSpec) -> Spec:
    """Build a validated spec from a dict or JSON text (a spec, or a preset file with a ``spec`` key).

    Raises:
        SpecError: for anything malformed, out of range or too large, naming the field.
    """
    if isinstance(data, ArchSpec):
        return data  # type: ignore[return-value]
    if isinstance(data, (str, bytes)):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if len(text) > MAX_JSON_LENGTH:
            raise SpecError("", f"the spec text is too long ({len(text):,} characters, at most {MAX_JSON_LENGTH:,})",
                            f"规格文本太长（{len(text):,} 个字符，最多 {MAX_JSON_LENGTH:,} 个）")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise SpecError("", f"not valid JSON: {exc.msg.lower()} at line {exc.lineno}, column {exc.colno}; "
                                "a spec looks like {\"family\": \"vgg\", \"conv_arch\": [[1, 64], [1, 128]]}",
                            f"不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列{_json_problem_zh(exc.msg)}；"
                            "规格的写法如 {\"family\": \"vgg\", \"conv_arch\": [[1, 64], [1, 128]]}") from None
        except (ValueError, RecursionError) as exc:
            refused = re.fullmatch(r"(\w+) is not allowed", str(exc))
            digits = re.match(r"Exceeds the limit \((\d+) digits\).*value has (\d+) digits", str(exc))
            problem_zh = (f"不允许 {refused[1]}" if refused else
                          f"整数太长：有 {digits[2]} 位，超过了上限 {digits[1]} 位" if digits else
                          "嵌套太深" if isinstance(exc, RecursionError) else describe(str(exc), 120))
            raise SpecError("", f"not valid JSON: {describe(str(exc), 120)}", f"不是有效的 JSON：{problem_zh}") from None
    if not isinstance(data, Mapping):
        raise SpecError("", f"expected a JSON object describing a network, got {describe(data)}",
                        f"应为描述一个网络的 JSON 对象，收到的是 {describe(data)}")
    if "spec" in data and isinstance(data["spec"], Mapping):
        data = data["spec"]  # a preset file: {"name", "description", "source", "spec": {...}}
    from ..families import FAMILIES  # the registry imports the spec modules, so it is imported on first use

    family = data.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError("family", f"must be one of {', '.join(FAMILIES)} (the kind of network), got {describe(family)}",
                        f"必须是 {', '.join(FAMILIES)} 之一（网络的种类），收到的是 {describe(family)}")
    try:
        return FAMILIES[family].spec_class.from_dict(data)  # type: ignore[return-value]
    except SpecError:
        raise
    except RecursionError:
        raise SpecError("", "the spec is nested too deeply", "规格嵌套太深") from None


#: json's messages (``JSONDecodeError.msg``) in Chinese, by how they start.
_JSON_PROBLEMS_ZH = (
    ("Expecting value", "缺少一个值"),
    ("Expecting property name enclosed in double quotes", "缺少用双引号括起来的属性名"),
    ("Expecting ',' delimiter", "缺少逗号 ','"),
    ("Expecting ':' delimiter", "缺少冒号 ':'"),
    ("Extra data", "有多余的内容"),
    ("Unterminated string", "字符串没有结束"),
    ("Invalid control character", "有无效的控制字符"),
    ("Invalid \\uXXXX escape", "有无效的 \\u 转义"),
    ("Invalid \\escape", "有无效的转义符"),
    ("Illegal trailing comma", "末尾多了一个逗号"),
)


def _json_problem_zh(msg: str) -> str:
    """``"Expecting value"`` -> ``"缺少一个值"`` (what the JSON parser found, after 第 N 行第 M 列)."""
    for start, words in _JSON_PROBLEMS_ZH:
        if msg.startswith(start):
            return words
    return "有格式错误"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


__all__ = ["AlexNetSpec", "ArchSpec", "GoogLeNetSpec", "InceptionSpec", "NiNBlockSpec", "NiNSpec",
           "Spec", "SpecError", "VGGSpec", "format_conv_arch", "parse_conv_arch", "parse_spec", "MAX_TEXT_LENGTH"]


def __getattr__(name: str) -> Any:
    if name == "SPEC_CLASSES":  # family name -> spec class, from the registry (kept for older callers)
        from ..families import FAMILIES

        return {family.name: family.spec_class for family in FAMILIES.values()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
