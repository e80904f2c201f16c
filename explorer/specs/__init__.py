"""What a user can edit: one frozen, validated dataclass per family, and :func:`parse_spec`."""
from __future__ import annotations

import json
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
            raise SpecError("", f"the spec text is too long ({len(text):,} characters, at most {MAX_JSON_LENGTH:,})")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise SpecError("", f"not valid JSON: {exc.msg.lower()} at line {exc.lineno}, column {exc.colno}; "
                                "a spec looks like {\"family\": \"vgg\", \"conv_arch\": [[1, 64], [1, 128]]}") from None
        except (ValueError, RecursionError) as exc:
            raise SpecError("", f"not valid JSON: {describe(str(exc), 120)}") from None
    if not isinstance(data, Mapping):
        raise SpecError("", f"expected a JSON object describing a network, got {describe(data)}")
    if "spec" in data and isinstance(data["spec"], Mapping):
        data = data["spec"]  # a preset file: {"name", "description", "source", "spec": {...}}
    from ..families import FAMILIES  # the registry imports the spec modules, so it is imported on first use

    family = data.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError("family", f"must be one of {', '.join(FAMILIES)} (the kind of network), got {describe(family)}")
    try:
        return FAMILIES[family].spec_class.from_dict(data)  # type: ignore[return-value]
    except SpecError:
        raise
    except RecursionError:
        raise SpecError("", "the spec is nested too deeply") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


__all__ = ["AlexNetSpec", "ArchSpec", "GoogLeNetSpec", "InceptionSpec", "NiNBlockSpec", "NiNSpec",
           "Spec", "SpecError", "VGGSpec", "format_conv_arch", "parse_conv_arch", "parse_spec", "MAX_TEXT_LENGTH"]


def __getattr__(name: str) -> Any:
    if name == "SPEC_CLASSES":  # family name -> spec class, from the registry (kept for older callers)
        from ..families import FAMILIES

        return {family.name: family.spec_class for family in FAMILIES.values()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
