"""CNN Architecture Explorer: edit a classic CNN's spec and see it rebuilt, analysed and trained.

The public API::

    from explorer import load_preset, parse_spec, analyze, build_model, SpecError
    spec = load_preset("vgg16")
    analysis = analyze(spec)            # meta device: shapes, params, MACs, memory, receptive fields
    model = build_model(spec)           # a real nn.Module returning logits
"""
from __future__ import annotations

from .analysis import Analysis, LayerAnalysis, analyze
from .models import build_model
from .presets import Preset, get_preset, list_presets, load_preset, preset_names, resolve_spec
from .specs import (AlexNetSpec, GoogLeNetSpec, InceptionSpec, NiNBlockSpec, NiNSpec, Spec, SpecError, VGGSpec,
                    parse_spec)

__all__ = [
    "AlexNetSpec", "Analysis", "GoogLeNetSpec", "InceptionSpec", "LayerAnalysis", "NiNBlockSpec", "NiNSpec",
    "Preset", "Spec", "SpecError", "VGGSpec", "analyze", "build_model", "get_preset", "list_presets",
    "load_preset", "parse_spec", "preset_names", "resolve_spec",
]
