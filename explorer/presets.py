"""The presets: JSON files in ``presets/``, loaded straight into the spec classes (so they are validated)."""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .specs import Spec, SpecError, parse_spec
from .specs.fields import describe, show

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str  # one line
    source: str  # where the numbers come from
    spec: Spec
    description_zh: str = ""  # the description in Simplified Chinese (shown on a Chinese page)

    def label(self, *, zh: bool = False) -> str:
        """The preset as a picker shows it: ``"vgg16 — VGG-16 as in torchvision: ..."`` (70 characters of
        description; the Chinese description whole when ``zh``)."""
        if zh and self.description_zh:
            return f"{self.name} — {self.description_zh}"
        return f"{self.name} — {self.description[:70]}"


@lru_cache(maxsize=None)
def _load_all() -> dict[str, Preset]:
    presets = {}
    for path in sorted(PRESETS_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        name = data.get("name", path.stem)
        presets[name] = Preset(name=name, description=data["description"], source=data["source"],
                               spec=parse_spec(data["spec"]), description_zh=data.get("description_zh", ""))
    return presets


def list_presets() -> list[Preset]:
    """All presets, sorted by name."""
    return list(_load_all().values())


def preset_names() -> list[str]:
    return list(_load_all())


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (its description and source included)."""
    presets = _load_all()
    names = ", ".join(presets)
    if not isinstance(name, str):
        raise SpecError("preset", f"must be a preset name like vgg16, got {show(name)}; choose one of {names}",
                        f"必须是预设名称（如 vgg16），收到的是 {show(name, zh=True)}；可选的有 {names}")
    if not _NAME.match(name) or name not in presets:
        close = difflib.get_close_matches(name.strip().lower(), presets, n=1) if len(name) <= 64 else []
        guess = f"did you mean {close[0]}? Or " if close else ""
        guess_zh = f"你是不是想写 {close[0]}？或者" if close else ""
        raise SpecError("preset", f"no preset named {describe(name, 40)}; {guess}choose one of {names}",
                        f"没有名为 `{describe(name, 40).replace('`', chr(39))}` 的预设；{guess_zh}从这些中选一个：{names}")
    return presets[name]


def load_preset(name: str) -> Spec:
    """The spec of the preset called ``name``."""
    return get_preset(name).spec


def resolve_spec(text: str) -> Spec:
    """A preset name, or a JSON spec, as typed into the CLI or the API."""
    if not isinstance(text, str):
        return parse_spec(text)
    stripped = text.strip()
    if stripped.startswith("{"):
        return parse_spec(stripped)
    return load_preset(stripped)
