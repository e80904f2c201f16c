"""What every architecture spec shares: JSON round-trips, the common fields and the plan check."""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, ClassVar, Mapping

from . import budget
from .budget import PlannedLayer, Planner
from .errors import SpecError
from .fields import check_int, describe, join_zh, show


def to_jsonable(value: Any) -> Any:
    """Tuples become lists and nested specs become dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    return value


def check_keys(data: Any, cls: type, field: str, *, example: str = "", what: str = "",
               what_zh: str = "") -> Mapping[str, Any]:
    """A mapping whose keys are all fields of the dataclass ``cls``.

    ``example`` is what to write instead when ``data`` is not a mapping (e.g. a list form of the same thing);
    ``what`` names the thing in messages ("NiN block"; a spec class's family label by default), ``what_zh`` in
    Chinese ("NiN 块"; "<family label> 网络" by default).
    """
    label = getattr(cls, "family_label", "")
    what_zh = what_zh or (what if what else f"{label} 网络" if label else "")
    what = what or label
    names = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(data, Mapping):
        instead = example or "{" + ", ".join(f'"{name}": ...' for name in names[:2]) + "}"
        thing = f"{_article(what)} {what}" if what else "a set of named settings"
        thing_zh = f"一个 {what_zh}" if what_zh else "一组带名字的设置"
        raise SpecError(field, f"{show(data)} is not {thing}; write it like {instead}",
                        join_zh(show(data, zh=True), "不是", thing_zh) + f"；请写成 {instead} 这样的形式")
    for key in data:
        if key not in names:
            # The key as typed when it is short and plain; otherwise a truncated repr (never a giant echo).
            shown = key if isinstance(key, str) and key.isprintable() and key.strip() and len(key) <= 60 \
                else describe(key)
            place = f"{field}.{shown}" if field else shown
            close = difflib.get_close_matches(key, names, n=1) if isinstance(key, str) and len(key) <= 60 else []
            guess = f"did you mean {close[0]}? The" if close else "the"
            owner = f"{_article(what)} {what} setting" if what else "a known setting"
            owner_zh = f"{what_zh}的设置" if what_zh else "已知的设置"
            guess_zh = f"你是不是想写 {close[0]}？" if close else ""
            raise SpecError(place, f"is not {owner}; {guess} settings are {', '.join(names)}",
                            join_zh("不是", owner_zh) + f"；{guess_zh}可用的设置有 {', '.join(names)}")
    return data


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOUaeiou" else "a"


class ArchSpec:
    """Mixin for the four family specs (each a frozen dataclass).

    Subclasses define ``family``, the fields ``in_channels``, ``num_classes`` and ``input_size``,
    a ``_normalize()`` that checks and normalises their own fields, and ``_plan()``.
    """

    family: ClassVar[str]
    family_label: ClassVar[str]
    in_channels: int
    num_classes: int
    input_size: int

    def __post_init__(self) -> None:
        self._set("in_channels", check_int(self.in_channels, "in_channels", minimum=1,
                                           maximum=budget.MAX_IN_CHANNELS))
        self._set("num_classes", check_int(self.num_classes, "num_classes", minimum=1,
                                           maximum=budget.MAX_CLASSES))
        self._set("input_size", check_int(self.input_size, "input_size", minimum=1,
                                          maximum=budget.MAX_INPUT_SIZE))
        self._normalize()
        self.plan().check_budget()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _normalize(self) -> None:  # pragma: no cover - every family overrides it
        raise NotImplementedError

    def _plan(self, planner: Planner) -> None:  # pragma: no cover - every family overrides it
        raise NotImplementedError

    def plan(self) -> Planner:
        """Walk the network with integer arithmetic; raises SpecError on shape errors."""
        planner = Planner(self.family_label, self.in_channels, self.input_size)
        planner.too_small_for = self._too_small_for  # type: ignore[method-assign]
        self._plan(planner)
        return planner

    @property
    def accepts_any_input_size(self) -> bool:
        """Whether the network also takes other (large enough) input sizes than ``input_size``, so that exports
        may leave height and width symbolic. False unless a family says otherwise."""
        return False

    def planned_layers(self) -> list[PlannedLayer]:
        return self.plan().layers

    def planned_params(self) -> int:
        """The parameter count from arithmetic alone (equals the built model's)."""
        return sum(layer.params for layer in self.planned_layers())

    def _too_small_for(self) -> tuple[str, str]:
        """Names the smallest input size whose plan has no zero-sized layer (English, and the Chinese reason
        that follows "输入 NxN").

        Every layer's output size grows (weakly) with its input size, so the sizes that fit form a range up to
        the limit and a binary search finds the smallest in ~10 walks (a scan of all 1,024 sizes took seconds
        for deep VGGs).
        """
        if not self._fits(budget.MAX_INPUT_SIZE):
            return (f"this {self.family_label} at any input size; remove layers or reduce strides",
                    f"对这个 {self.family_label} 来说太小，而且任何输入尺寸都不够；请删去一些层或减小步幅")
        low, high = 1, budget.MAX_INPUT_SIZE  # high always fits
        while low < high:
            middle = (low + high) // 2
            if self._fits(middle):
                high = middle
            else:
                low = middle + 1
        return (f"this {self.family_label}; use input_size >= {low}",
                f"对这个 {self.family_label} 来说太小；请使用 input_size >= {low}")

    def _fits(self, size: int) -> bool:
        """Whether the plan at input ``size`` has no zero-sized layer."""
        planner = Planner(self.family_label, self.in_channels, size)
        planner._check_size = _raise_on_zero  # type: ignore[method-assign]
        try:
            self._plan(planner)
        except _TooSmall:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :func:`explorer.parse_spec` turns back into an equal spec."""
        return {"family": self.family, **to_jsonable(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ArchSpec":
        fields = {key: value for key, value in check_keys(
            {k: v for k, v in data.items() if k != "family"}, cls, "").items()}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in fields
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:  # every family gives its fields defaults, so this only guards future ones
            raise SpecError(missing[0], f"is missing; the {cls.family_label} spec needs {', '.join(missing)}",
                            f"缺失；{cls.family_label} 规格需要 {', '.join(missing)}")
        return cls(**fields)

    def replace(self, **changes: Any) -> "ArchSpec":
        """A copy with some fields changed (validated like any new spec)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


class _TooSmall(Exception):
    pass


def _raise_on_zero(where: str, operation: str, size: int) -> None:
    if size < 1:
        raise _TooSmall
