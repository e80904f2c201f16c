"""One entry point, :func:`build_model`, turns any spec into an ``nn.Module`` that returns logits.

Each family's model class takes plain arguments (``spec.model_kwargs()``) and imports only torch, so the
exported ``.py`` files are this code itself.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..families import family_of
from ..specs import ArchSpec, parse_spec
from .googlenet import GoogLeNet, GoogLeNetOutputs
from .layers import RecordedNet


def build_model(spec: ArchSpec | Mapping[str, Any] | str, *, device: torch.device | str | None = None) -> nn.Module:
    """Build the network a spec describes.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        device: where to create the parameters; ``"meta"`` builds shapes only, with no weight memory.
    """
    spec = parse_spec(spec)
    model_class = family_of(spec).model_class()
    if device is None:
        return model_class(**spec.model_kwargs())
    with torch.device(device):
        return model_class(**spec.model_kwargs())


def main_logits(output: torch.Tensor | tuple) -> torch.Tensor:
    """The main classifier's logits, whatever the model returned (a tensor, or logits first in a tuple)."""
    return output[0] if isinstance(output, tuple) else output


__all__ = ["GoogLeNet", "GoogLeNetOutputs", "RecordedNet", "build_model", "main_logits"]
