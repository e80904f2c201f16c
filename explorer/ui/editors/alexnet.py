"""The AlexNet editor: channels, conv1's geometry, the classifier, and the paper's options (LRN, groups)."""
from __future__ import annotations

from typing import Any

from ...specs import SpecError
from .base import (Editor, Field, Widget, int_list_text, list_text, optional_int_list_text, optional_pool, widget_bool,
                   widget_float, widget_int)

CONV1 = "conv1 (kernel, stride, padding)"


def _conv1(value: Any, field: str) -> list[Any]:
    numbers = int_list_text(value, field)
    if len(numbers) != 3:
        raise SpecError(field, f"expected three numbers (kernel, stride, padding), got {len(numbers)}",
                        f"应为三个数（卷积核大小、步幅、填充），收到 {len(numbers)} 个")
    return numbers


EDITOR = Editor(
    family="alexnet",
    fields=(
        Field("conv_channels", Widget("text", "Conv channels (5)"),
              read=lambda spec: list_text(spec.conv_channels), parse=int_list_text),
        Field("conv1", Widget("text", "conv1 kernel, stride, padding"),
              read=lambda spec: list_text((spec.conv1_kernel, spec.conv1_stride, spec.conv1_padding)),
              parse=_conv1, into=("conv1_kernel", "conv1_stride", "conv1_padding")),
        Field("groups", Widget("radio", "Groups", choices=(1, 2), info="2 = the paper's two-GPU split"),
              parse=widget_int),
        Field("avgpool_size", Widget("number", "Adaptive avg-pool", integer=True, info="6 as torchvision; 0 = none"),
              read=lambda spec: spec.avgpool_size or 0, parse=optional_pool),
        Field("hidden_sizes", Widget("text", "Hidden FC sizes"),
              read=lambda spec: list_text(spec.hidden_sizes), parse=optional_int_list_text),
        Field("overlapping_pool", Widget("checkbox", "Overlapping pooling (3x3/2)"), parse=widget_bool),
        Field("lrn", Widget("checkbox", "Local response norm"), parse=widget_bool),
        Field("lrn_size", Widget("number", "LRN n", integer=True), parse=widget_int),
        Field("lrn_alpha", Widget("number", "LRN α"), parse=widget_float),
        Field("lrn_beta", Widget("number", "LRN β"), parse=widget_float),
        Field("lrn_k", Widget("number", "LRN k"), parse=widget_float),
        Field("dropout", Widget("slider", "Dropout", minimum=0, maximum=0.95, step=0.05), parse=widget_float),
    ),
    rows=(("conv_channels",), ("conv1", "groups", "avgpool_size"), ("hidden_sizes",), ("overlapping_pool", "lrn"),
          ("lrn_size", "lrn_alpha", "lrn_beta", "lrn_k"), ("dropout",)),
)
