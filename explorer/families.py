"""The family registry: one line per family maps its name to its spec class, label, default preset, model,
editor and teaching module. Generic code asks the registry (or the blocks a model records), never
``isinstance`` chains.

Modules that need torch or gradio are named, not imported, so that ``import explorer`` stays light.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .specs.base import ArchSpec


@dataclass(frozen=True)
class Family:
    """What the app knows about one family of networks."""

    name: str  # the spec's "family" value
    label: str  # shown to users
    spec_class: type[ArchSpec]
    default_preset: str  # what choosing the family loads
    model: str  # "module:Class", an nn.Module built from ``spec.model_kwargs()``; the module imports only torch
    editor: str  # module defining the family's Explore editor (``EDITOR``)
    teaching: str  # module with the family's explanations and lessons

    def model_class(self) -> type:
        module, _, name = self.model.partition(":")
        return getattr(importlib.import_module(module), name)

    def editor_definition(self) -> Any:
        return importlib.import_module(self.editor).EDITOR

    def teaching_module(self) -> Any:
        return importlib.import_module(self.teaching)


def _family(name: str, label: str, spec_class: str, default_preset: str, model_class: str) -> Family:
    """A family whose modules follow the layout: ``specs/NAME.py``, ``models/NAME.py``, ``ui/editors/NAME.py``
    and ``teaching/NAME.py``."""
    spec = getattr(importlib.import_module(f"explorer.specs.{name}"), spec_class)
    return Family(name, label, spec, default_preset, f"explorer.models.{name}:{model_class}",
                  f"explorer.ui.editors.{name}", f"explorer.teaching.{name}")


FAMILIES: dict[str, Family] = {family.name: family for family in (
    _family("vgg", "VGG", "VGGSpec", "vgg16", "VGG"),
    _family("googlenet", "GoogLeNet", "GoogLeNetSpec", "googlenet", "GoogLeNet"),
    _family("nin", "NiN", "NiNSpec", "d2l_nin", "NiN"),
    _family("alexnet", "AlexNet", "AlexNetSpec", "alexnet", "AlexNet"),
    _family("resnet", "ResNet", "ResNetSpec", "resnet18", "ResNet"),
)}


def family_of(spec_or_name: ArchSpec | str) -> Family:
    """The registered family of a spec (or called ``name``); KeyError for others."""
    return FAMILIES[spec_or_name if isinstance(spec_or_name, str) else spec_or_name.family]


def family_names() -> tuple[str, ...]:
    return tuple(FAMILIES)
