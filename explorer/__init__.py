"""CNN Architecture Explorer: edit a classic CNN's spec and see it rebuilt, analysed and trained.

The public API::

    from explorer import load_preset, parse_spec, analyze, build_model, SpecError
    spec = load_preset("vgg16")
    analysis = analyze(spec)            # meta device: shapes, params, MACs, memory, receptive fields
    model = build_model(spec)           # a real nn.Module returning logits

Names are imported on first use, so tools that need no PyTorch (``python -m explorer gpu``) start fast.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Analysis": "analysis", "LayerAnalysis": "analysis", "analyze": "analysis",
    "build_model": "models",
    "Preset": "presets", "get_preset": "presets", "list_presets": "presets", "load_preset": "presets",
    "preset_names": "presets", "resolve_spec": "presets",
    "AlexNetSpec": "specs", "GoogLeNetSpec": "specs", "InceptionSpec": "specs", "NiNBlockSpec": "specs",
    "NiNSpec": "specs", "Spec": "specs", "SpecError": "specs", "VGGSpec": "specs", "parse_spec": "specs",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .analysis import Analysis, LayerAnalysis, analyze
    from .models import build_model
    from .presets import Preset, get_preset, list_presets, load_preset, preset_names, resolve_spec
    from .specs import (AlexNetSpec, GoogLeNetSpec, InceptionSpec, NiNBlockSpec, NiNSpec, Spec, SpecError,
                        VGGSpec, parse_spec)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
