"""The VGG editor: d2l's ``conv_arch`` text plus the classifier's options."""
from __future__ import annotations

from typing import Any

from ...specs import SpecError, format_conv_arch
from .base import (Editor, Field, Widget, list_text, optional_int_list_text, optional_pool, widget_bool, widget_float,
                   widget_int)


def _conv_arch(value: Any, field: str) -> Any:
    """The text as typed: the spec parses it (and names the bad pair)."""
    if value is None or not str(value).strip():
        raise SpecError(field, "is empty; try ((1, 64), (1, 128), (2, 256))",
                        "是空的；可以试试 ((1, 64), (1, 128), (2, 256))")
    return value


EDITOR = Editor(
    family="vgg",
    fields=(
        Field("conv_arch", Widget("text", "conv_arch: ((num_convs, out_channels), ...)", lines=2, elem_id="conv-arch",
                                  info="d2l's notation: one pair per block; each block ends in a 2x2 max-pool."),
              read=lambda spec: format_conv_arch(spec.conv_arch), parse=_conv_arch),
        Field("ratio", Widget("number", "Width ratio", integer=True, elem_id="vgg-ratio",
                              info="out_channels // ratio (d2l's small VGG: 4)"), parse=widget_int),
        Field("avgpool_size", Widget("number", "Adaptive avg-pool", integer=True,
                                     info="7 as torchvision; 0 = none (d2l)"),
              read=lambda spec: spec.avgpool_size or 0, parse=optional_pool),
        Field("hidden_sizes", Widget("text", "Hidden FC sizes", info="comma-separated; empty = a single FC layer"),
              read=lambda spec: list_text(spec.hidden_sizes), parse=optional_int_list_text),
        Field("batch_norm", Widget("checkbox", "Batch norm"), parse=widget_bool),
        Field("fc_as_conv", Widget("checkbox", "FC layers as convolutions (any input size)"), parse=widget_bool),
        Field("dropout", Widget("slider", "Dropout", minimum=0, maximum=0.95, step=0.05), parse=widget_float),
    ),
    rows=(("conv_arch",), ("ratio", "avgpool_size"), ("hidden_sizes",), ("batch_norm", "fc_as_conv"), ("dropout",)),
)
