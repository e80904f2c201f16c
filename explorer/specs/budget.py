"""Size limits and the arithmetic shape walk that enforces them before any module is built.

Each spec describes its network as a list of :class:`PlannedLayer` computed with plain integer
arithmetic. The walk finds shape errors (a spatial size that shrinks to zero) and refuses networks
over the budget in microseconds, long before PyTorch would allocate anything.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import SpecError

# Per-field limits. They keep every spec a classroom machine can at least analyse.
MAX_INPUT_SIZE = 1024
MAX_IN_CHANNELS = 64
MAX_CLASSES = 100_000
MAX_CHANNELS = 16_384
MAX_HIDDEN = 65_536
MAX_KERNEL = 31
MAX_CONVS_PER_BLOCK = 64
MAX_BLOCKS = 32
# Whole-network limits, checked on the planned layers.
MAX_LAYERS = 1_000
MAX_PARAMS = 2_000_000_000
MAX_MACS = 5_000_000_000_000
MAX_ACTIVATIONS = 2_000_000_000  # output elements of all layers, for one sample


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window along one axis (PyTorch's formula)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # PyTorch: with ceil_mode the last window must start inside the input or left padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class PlannedLayer:
    """One layer as the arithmetic walk sees it."""

    where: str  # human-readable location, e.g. "block 3 conv 2"
    operation: str  # e.g. "3x3 conv", "max-pool"
    out_shape: tuple[int, ...]  # (C, H, W) or (features,)
    params: int = 0
    macs: int = 0


class Planner:
    """Accumulates planned layers and checks shapes as they go."""

    def __init__(self, family_label: str, in_channels: int, input_size: int) -> None:
        self.family_label = family_label
        self.input_size = input_size
        self.channels = in_channels
        self.size = input_size
        self.features: int | None = None  # set once flattened
        self.layers: list[PlannedLayer] = []

    # --- layer kinds -------------------------------------------------------------------------
    def conv(self, where: str, out_channels: int, kernel: int, stride: int = 1, padding: int = 0,
             *, bias: bool = True, groups: int = 1) -> None:
        size = conv_output_size(self.size, kernel, stride, padding)
        self._check_size(where, f"{kernel}x{kernel} conv", size)
        params = out_channels * (self.channels // groups) * kernel * kernel + (out_channels if bias else 0)
        macs = out_channels * (self.channels // groups) * kernel * kernel * size * size
        self.channels, self.size = out_channels, size
        self.layers.append(PlannedLayer(where, f"{kernel}x{kernel} conv", (out_channels, size, size), params, macs))

    def batch_norm(self, where: str) -> None:
        self.layers.append(PlannedLayer(where, "batch norm", (self.channels, self.size, self.size),
                                        2 * self.channels, 0))

    def same_shape(self, where: str, kind: str) -> None:
        """A layer that keeps the shape and has no parameters (LRN, dropout)."""
        self.layers.append(PlannedLayer(where, kind, (self.channels, self.size, self.size)))

    def pool(self, where: str, kernel: int, stride: int, padding: int = 0, *,
             ceil_mode: bool = False, kind: str = "max-pool") -> None:
        size = conv_output_size(self.size, kernel, stride, padding, ceil_mode=ceil_mode)
        self._check_size(where, kind, size)
        self.size = size
        self.layers.append(PlannedLayer(where, kind, (self.channels, size, size)))

    def adaptive_pool(self, where: str, size: int) -> None:
        self.size = size
        self.layers.append(PlannedLayer(where, "adaptive avg-pool", (self.channels, size, size)))

    def flatten(self, where: str) -> None:
        self.features = self.channels * self.size * self.size
        self.layers.append(PlannedLayer(where, "flatten", (self.features,)))

    def linear(self, where: str, out_features: int) -> None:
        assert self.features is not None, "flatten before linear"
        params = self.features * out_features + out_features
        self.layers.append(PlannedLayer(where, "linear", (out_features,), params, params - out_features))
        self.features = out_features

    # --- checks ------------------------------------------------------------------------------
    def _check_size(self, where: str, operation: str, size: int) -> None:
        if size >= 1:
            return
        too_small, too_small_zh = self.too_small_for()
        side = max(size, 0)
        raise SpecError(
            "input_size",
            f"{where}: spatial size {side}x{side} after {operation} (input "
            f"{self.input_size}x{self.input_size} is too small for {too_small})",
            f"{place_zh(where)}：经过{operation_zh(operation)}后空间尺寸变为 {side}x{side}（输入 "
            f"{self.input_size}x{self.input_size} {too_small_zh}）",
        )

    def too_small_for(self) -> tuple[str, str]:
        """What the input is too small for (English), and the Chinese reason that follows "输入 NxN"; specs
        replace this with a hint naming a size that works."""
        return f"this {self.family_label}", f"对这个 {self.family_label} 来说太小"

    def check_budget(self) -> None:
        """Refuse networks over the size budget (counts, not allocations)."""
        if len(self.layers) > MAX_LAYERS:
            raise SpecError("", f"the network has {len(self.layers):,} layers, more than the limit of "
                                f"{MAX_LAYERS:,}; remove some blocks",
                            f"网络有 {len(self.layers):,} 层，超过了上限 {MAX_LAYERS:,}；请删去一些块")
        params = sum(layer.params for layer in self.layers)
        if params > MAX_PARAMS:
            raise SpecError("", f"the network has {params:,} parameters ({params / 1e9:.1f} billion), "
                                f"more than the limit of {MAX_PARAMS / 1e9:g} billion; use fewer channels, "
                                "fewer layers or smaller hidden sizes",
                            # 亿 = 10^8: "2.5 billion" is 25 亿, the same rounding
                            f"网络有 {params:,} 个参数（约 {params / 1e8:.0f} 亿），超过了上限 {MAX_PARAMS / 1e8:g} 亿；"
                            "请减少通道数、层数或隐藏层的大小")
        macs = sum(layer.macs for layer in self.layers)
        if macs > MAX_MACS:
            raise SpecError("", f"the network needs {macs / 1e9:,.0f} GMACs per image, more than the limit "
                                f"of {MAX_MACS / 1e9:,.0f}; use a smaller input size or fewer channels",
                            f"网络每张图需要 {macs / 1e9:,.0f} GMACs（十亿次乘加运算），超过了上限 "
                            f"{MAX_MACS / 1e9:,.0f}；请减小输入尺寸或减少通道数")
        activations = sum(math.prod(layer.out_shape) for layer in self.layers)
        if activations > MAX_ACTIVATIONS:
            raise SpecError("input_size", f"the network's activations hold {activations:,} values per image, "
                                          f"more than the limit of {MAX_ACTIVATIONS:,}; use a smaller input "
                                          "size or narrower layers",
                            f"网络每张图的激活值共有 {activations:,} 个，超过了上限 {MAX_ACTIVATIONS:,}；"
                            "请减小输入尺寸或使用更窄的层")


#: A planned layer's place (``PlannedLayer.where``) in Chinese, by pattern; places not listed stay as they are.
_PLACES_ZH = (
    (r"block (\d+) conv (\d+)", r"第 \1 块的第 \2 个卷积层"),
    (r"block (\d+) bn (\d+)", r"第 \1 块的第 \2 个批量归一化层"),
    (r"block (\d+)", r"第 \1 块"),
    (r"classifier fc(\d+) \(as conv\)", r"分类器 fc\1（卷积形式）"),
    (r"classifier fc(\d+)", r"分类器 fc\1"),
    (r"classifier block", "分类块"),
    (r"classifier", "分类器"),
    (r"avgpool", "自适应平均池化层"),
    (r"global average pool", "全局平均池化层"),
    (r"head fc", "输出头 fc"),
    (r"head", "输出头"),
    (r"stem (\w+)", r"主干 \1"),
    (r"pool before inception (\w+)", r"Inception 块 \1 之前的池化层"),
    (r"inception (\w+)", r"Inception 块 \1"),
    (r"aux classifier after (\w+)", r"\1 之后的辅助分类器"),
    (r"NiN block (\d+) max-pool", r"第 \1 个 NiN 块之后的最大池化层"),
    (r"NiN block (\d+)", r"第 \1 个 NiN 块"),
    (r"(conv\d+) max-pool", r"\1 之后的最大池化层"),
    (r"(conv\d+) LRN", r"\1 之后的 LRN"),
    (r"residual block (\S+) shortcut", r"残差块 \1 的捷径"),
    (r"residual block (\S+)", r"残差块 \1"),
)


def place_zh(where: str) -> str:
    """``"block 3 conv 2"`` -> ``"第 3 块的第 2 个卷积层"``; a place with no pattern is returned as it is."""
    for pattern, replacement in _PLACES_ZH:
        match = re.fullmatch(pattern, where)
        if match:
            return match.expand(replacement)
    return where


def operation_zh(operation: str) -> str:
    """``"3x3 conv"`` -> ``" 3x3 卷积"``, ``"max-pool"`` -> ``"最大池化"`` (spaced to follow 经过)."""
    conv = re.fullmatch(r"(\d+)x(\d+) conv", operation)
    if conv:
        return f" {conv[1]}x{conv[2]} 卷积"
    return {"max-pool": "最大池化", "avg-pool": "平均池化"}.get(operation, f" {operation} ")
