"""VGG: blocks of 3x3 convolutions, each block closed by a 2x2 max-pool (Simonyan & Zisserman, 2014)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import budget
from .base import ArchSpec
from .budget import Planner
from .errors import SpecError
from .fields import (check_bool, check_float, check_int, check_int_tuple, check_optional_int,
                     check_sequence, got_zh, plural, show)

ConvArch = tuple[tuple[int, int], ...]


#: What a user writes for conv_arch, in messages.
CONV_ARCH_EXAMPLE = "((1, 64), (1, 128))"


def parse_conv_arch(value: Any, field: str = "conv_arch") -> ConvArch:
    """Check d2l's ``((num_convs, out_channels), ...)``, given as a list or as the text a user types."""
    blocks = check_sequence(value, field, min_length=1, max_length=budget.MAX_BLOCKS,
                            expected="a list of (num_convs, out_channels) pairs", example=CONV_ARCH_EXAMPLE,
                            item="block", expected_zh="由 (num_convs, out_channels) 数对组成的列表",
                            item_zh="个块")
    parsed = []
    for index, block in enumerate(blocks):
        place = f"{field}[{index}]"
        if not isinstance(block, (list, tuple)) or len(block) != 2:
            raise SpecError(place, "each block is a pair (num_convs, out_channels) like (2, 256), "
                                   f"got {show(block)}",
                            f"每个块是一对数 (num_convs, out_channels)，例如 (2, 256)，{got_zh(block)}")
        num_convs = check_int(block[0], place, minimum=1, maximum=budget.MAX_CONVS_PER_BLOCK,
                              name="num_convs (the first number)", name_zh="num_convs（第一个数）")
        out_channels = check_int(block[1], place, minimum=1, maximum=budget.MAX_CHANNELS,
                                 name="out_channels (the second number)", name_zh="out_channels（第二个数）")
        parsed.append((num_convs, out_channels))
    return tuple(parsed)


def format_conv_arch(conv_arch: ConvArch) -> str:
    """The text form d2l prints, e.g. ``((1, 64), (1, 128))``."""
    inner = ", ".join(f"({num_convs}, {channels})" for num_convs, channels in conv_arch)
    return f"({inner},)" if len(conv_arch) == 1 else f"({inner})"


@dataclass(frozen=True)
class VGGSpec(ArchSpec):
    """A VGG network. Defaults are torchvision's VGG-11 (3x224x224, 1000 classes)."""

    family = "vgg"
    family_label = "VGG"

    # ((num_convs, out_channels), ...): one entry per block, exactly as d2l writes conv_arch.
    conv_arch: ConvArch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    in_channels: int = 3  # image channels: 1 for Fashion-MNIST, 3 for RGB
    num_classes: int = 1000
    input_size: int = 224  # square input, pixels per side
    hidden_sizes: tuple[int, ...] = (4096, 4096)  # widths of the hidden fully connected layers
    dropout: float = 0.5  # dropout before each hidden FC output, as in the paper
    batch_norm: bool = False  # conv -> BN -> ReLU (torchvision's vgg*_bn)
    ratio: int = 1  # d2l's width divisor: every out_channels becomes out_channels // ratio
    # torchvision's AdaptiveAvgPool2d((7, 7)) before the classifier; None flattens the features as they are (d2l).
    avgpool_size: int | None = 7
    # VGG's test-time trick: the FC layers as convolutions (first one kxk, then 1x1) plus a global average,
    # so the network takes any input that is large enough. Same parameters as the FC version.
    fc_as_conv: bool = False

    def _normalize(self) -> None:
        self._set("conv_arch", parse_conv_arch(self.conv_arch))
        self._set("hidden_sizes", check_int_tuple(self.hidden_sizes, "hidden_sizes", min_length=0, max_length=8,
                                                  minimum=1, maximum=budget.MAX_HIDDEN, example="(4096, 4096)",
                                                  item="hidden layer", item_zh="个隐藏层"))
        self._set("dropout", check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, include_maximum=False,
                                         hint="0.5 drops half the activations while training",
                                         hint_zh="0.5 表示训练时丢弃一半的激活值"))
        self._set("batch_norm", check_bool(self.batch_norm, "batch_norm"))
        self._set("ratio", check_int(self.ratio, "ratio", minimum=1, maximum=1024,
                                     hint="1 keeps the widths, 4 divides them by 4",
                                     hint_zh="1 保持宽度不变，4 把宽度除以 4"))
        self._set("avgpool_size", check_optional_int(self.avgpool_size, "avgpool_size", minimum=1, maximum=64,
                                                     hint="7 as torchvision, or none to flatten as d2l does",
                                                     hint_zh="torchvision 用 7；填 none 则像 d2l 那样直接展平"))
        self._set("fc_as_conv", check_bool(self.fc_as_conv, "fc_as_conv"))
        for index, (_, channels) in enumerate(self.conv_arch):
            if channels // self.ratio < 1:
                raise SpecError(f"conv_arch[{index}]", f"{plural(channels, 'channel')} divided by the width ratio "
                                                       f"{self.ratio} leaves none; use a ratio of at most "
                                                       f"{channels} or a wider block",
                               f"{plural(channels, 'channel').split(' ')[0]} 个通道除以宽度比例 {self.ratio} 后一个也不剩；"
                               f"请把比例设为不超过 {channels}，或加宽这个块")

    @property
    def block_channels(self) -> tuple[int, ...]:
        """Each block's out_channels after dividing by ``ratio``."""
        return tuple(channels // self.ratio for _, channels in self.conv_arch)

    @property
    def num_conv_layers(self) -> int:
        return sum(num_convs for num_convs, _ in self.conv_arch)

    @property
    def accepts_any_input_size(self) -> bool:
        """With ``fc_as_conv`` the classifier is convolutional and averages its map: any large enough input."""
        return self.fc_as_conv

    def classifier_kernel(self) -> int:
        """Spatial size the first FC layer sees (its kernel size when ``fc_as_conv``)."""
        if self.avgpool_size is not None:
            return self.avgpool_size
        return max(self.input_size >> len(self.conv_arch), 1)

    def model_kwargs(self) -> dict[str, Any]:
        """The arguments of ``explorer.models.vgg.VGG`` (plain literals)."""
        return dict(blocks=tuple((num_convs, width) for (num_convs, _), width in
                                 zip(self.conv_arch, self.block_channels)),
                    in_channels=self.in_channels, num_classes=self.num_classes, hidden_sizes=self.hidden_sizes,
                    dropout=self.dropout, batch_norm=self.batch_norm, avgpool_size=self.avgpool_size,
                    fc_as_conv=self.fc_as_conv, classifier_kernel=self.classifier_kernel())

    def _plan(self, planner: Planner) -> None:
        for block_index, ((num_convs, _), channels) in enumerate(zip(self.conv_arch, self.block_channels), 1):
            for conv_index in range(1, num_convs + 1):
                planner.conv(f"block {block_index} conv {conv_index}", channels, 3, 1, 1)
                if self.batch_norm:
                    planner.batch_norm(f"block {block_index} bn {conv_index}")
            planner.pool(f"block {block_index}", 2, 2)
        widths = (*self.hidden_sizes, self.num_classes)
        if self.fc_as_conv:
            kernel = self.classifier_kernel()
            for index, width in enumerate(widths):
                planner.conv(f"classifier fc{index + 1} (as conv)", width, kernel if index == 0 else 1)
            planner.adaptive_pool("classifier", 1)
            planner.flatten("classifier")
            return
        if self.avgpool_size is not None:
            planner.adaptive_pool("avgpool", self.avgpool_size)
        planner.flatten("classifier")
        for index, width in enumerate(widths):
            planner.linear(f"classifier fc{index + 1}", width)

    def _too_small_for(self) -> tuple[str, str]:
        if self.fc_as_conv:
            return super()._too_small_for()
        blocks = len(self.conv_arch)
        if 2 ** blocks > budget.MAX_INPUT_SIZE:  # no allowed input size is large enough
            most = budget.MAX_INPUT_SIZE.bit_length() - 1
            return (f"{blocks} VGG blocks at any allowed input size; use at most {most} blocks",
                    f"对 {blocks} 个 VGG 块来说太小，而且任何允许的输入尺寸都不够；最多使用 {most} 个块")
        return (f"{blocks} VGG blocks; use >= {2 ** blocks} or fewer blocks",
                f"对 {blocks} 个 VGG 块来说太小；请使用 >= {2 ** blocks} 的输入尺寸或减少块数")
