"""One entry point, :func:`build_model`, turns any spec into an ``nn.Module`` that returns logits."""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..specs import AlexNetSpec, ArchSpec, GoogLeNetSpec, NiNSpec, VGGSpec, parse_spec
from .alexnet import build_alexnet
from .googlenet import GoogLeNet, GoogLeNetOutputs, build_googlenet
from .nin import build_nin
from .vgg import build_vgg

_BUILDERS = {VGGSpec: build_vgg, GoogLeNetSpec: build_googlenet, NiNSpec: build_nin, AlexNetSpec: build_alexnet}


def build_model(spec: ArchSpec | Mapping[str, Any] | str, *, device: torch.device | str | None = None) -> nn.Module:
    """Build the network a spec describes.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        device: where to create the parameters; ``"meta"`` builds shapes only, with no weight memory.
    """
    spec = parse_spec(spec)
    builder = _BUILDERS[type(spec)]
    if device is None:
        return builder(spec)
    with torch.device(device):
        return builder(spec)


def main_logits(output: torch.Tensor | GoogLeNetOutputs) -> torch.Tensor:
    """The main classifier's logits, whatever the model returned."""
    return output.logits if isinstance(output, GoogLeNetOutputs) else output


__all__ = ["GoogLeNet", "GoogLeNetOutputs", "build_model", "main_logits"]
