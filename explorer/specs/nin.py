"""Network in Network (Lin et al., 2013): conv + 1x1 "mlpconv" blocks and a global-average head, no FC layers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import budget
from .base import ArchSpec, check_keys
from .budget import Planner
from .errors import SpecError
from .fields import check_float, check_int, check_int_tuple, check_sequence, got_zh, show

NIN_BLOCK_FIELDS = ("out_channels", "kernel_size", "stride", "padding", "mlp_channels")
#: What a user writes for one block and for the block list, in messages.
NIN_BLOCK_EXAMPLE = "(96, 11, 4, 0)"
NIN_BLOCKS_EXAMPLE = "((96, 11, 4, 0), (256, 5, 1, 2))"


@dataclass(frozen=True)
class NiNBlockSpec:
    """One NiN block: a kxk conv, then 1x1 convs (the "micro network"), each followed by ReLU."""

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    # Widths of the 1x1 convs after the kxk conv; empty means two of out_channels (d2l's nin_block).
    mlp_channels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "out_channels", check_int(self.out_channels, "out_channels", minimum=1,
                                             maximum=budget.MAX_CHANNELS))
        set_(self, "kernel_size", check_int(self.kernel_size, "kernel_size", minimum=1, maximum=budget.MAX_KERNEL))
        set_(self, "stride", check_int(self.stride, "stride", minimum=1, maximum=budget.MAX_KERNEL))
        most = self.kernel_size // 2
        set_(self, "padding", check_int(self.padding, "padding", minimum=0, maximum=most,
                                        hint=f"at most half the kernel size: {most} for kernel_size "
                                             f"{self.kernel_size}",
                                        hint_zh=f"最多为卷积核大小的一半：kernel_size 为 {self.kernel_size} 时最多为 "
                                                f"{most}"))
        set_(self, "mlp_channels", check_int_tuple(self.mlp_channels, "mlp_channels", min_length=0, max_length=8,
                                                   minimum=1, maximum=budget.MAX_CHANNELS, example="(96, 96)",
                                                   item="1x1 conv", item_zh="个 1x1 卷积"))

    @property
    def one_by_one_channels(self) -> tuple[int, ...]:
        return self.mlp_channels or (self.out_channels, self.out_channels)


def parse_nin_block(value: Any, field: str) -> NiNBlockSpec:
    """A block from a mapping or a list ``(out_channels, kernel_size, stride, padding[, mlp_channels])``."""
    if isinstance(value, NiNBlockSpec):
        return value
    expected = "a NiN block (out_channels, kernel_size, stride, padding)"
    if isinstance(value, str):
        # Any length here: the check below explains what the entries are.
        value = check_sequence(value, field, min_length=0, max_length=64, expected=expected,
                               example=NIN_BLOCK_EXAMPLE, item="number",
                               expected_zh="一个 NiN 块 (out_channels, kernel_size, stride, padding)", item_zh="个数")
    if isinstance(value, (list, tuple)):
        if not 2 <= len(value) <= 5:
            raise SpecError(field, f"a NiN block is (out_channels, kernel_size, stride, padding), optionally "
                                   f"followed by the 1x1 widths, like {NIN_BLOCK_EXAMPLE}; got {show(value)}",
                            f"NiN 块是 (out_channels, kernel_size, stride, padding)，后面可以再跟上各个 1x1 卷积的宽度，"
                            f"例如 {NIN_BLOCK_EXAMPLE}；{got_zh(value)}")
        value = dict(zip(NIN_BLOCK_FIELDS, value))
    data = check_keys(value, NiNBlockSpec, field, example=NIN_BLOCK_EXAMPLE, what="NiN block", what_zh="NiN 块")
    for required in ("out_channels", "kernel_size"):
        if required not in data:
            raise SpecError(field, f"is missing {required}; a NiN block needs at least out_channels and "
                                   "kernel_size",
                            f"缺少 {required}；NiN 块至少需要 out_channels 和 kernel_size")
    try:
        return NiNBlockSpec(**data)
    except SpecError as exc:
        raise SpecError(f"{field}.{exc.field}", exc.message, exc.message_zh) from None


@dataclass(frozen=True)
class NiNSpec(ArchSpec):
    """NiN as in d2l: feature blocks with max-pools between them, dropout, then a classifier NiN block
    whose channels are the classes, averaged over space. Defaults are d2l's (1x224x224, 10 classes)."""

    family = "nin"
    family_label = "NiN"

    blocks: tuple[NiNBlockSpec, ...] = (NiNBlockSpec(96, 11, 4, 0), NiNBlockSpec(256, 5, 1, 2),
                                        NiNBlockSpec(384, 3, 1, 1))
    in_channels: int = 1
    num_classes: int = 10
    input_size: int = 224
    pool_kernel: int = 3  # max-pool after every feature block
    pool_stride: int = 2
    dropout: float = 0.5  # before the classifier block
    head_kernel_size: int = 3  # the classifier block's first conv (padding keeps the size)

    def _normalize(self) -> None:
        rows = check_sequence(self.blocks, "blocks", min_length=1, max_length=budget.MAX_BLOCKS,
                              expected="a list of NiN blocks (out_channels, kernel_size, stride, padding)",
                              example=NIN_BLOCKS_EXAMPLE, item="block",
                              expected_zh="由 NiN 块 (out_channels, kernel_size, stride, padding) 组成的列表",
                              item_zh="个块")
        self._set("blocks", tuple(parse_nin_block(row, f"blocks[{index}]") for index, row in enumerate(rows)))
        self._set("pool_kernel", check_int(self.pool_kernel, "pool_kernel", minimum=1, maximum=budget.MAX_KERNEL,
                                           hint="the max-pool window after each block; d2l uses 3",
                                           hint_zh="每个块之后最大池化的窗口大小；d2l 用 3"))
        self._set("pool_stride", check_int(self.pool_stride, "pool_stride", minimum=1, maximum=budget.MAX_KERNEL,
                                           hint="d2l uses 2", hint_zh="d2l 用 2"))
        self._set("dropout", check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, include_maximum=False,
                                         hint="0.5 drops half the activations while training",
                                         hint_zh="0.5 表示训练时丢弃一半的激活值"))
        self._set("head_kernel_size", check_int(self.head_kernel_size, "head_kernel_size", minimum=1,
                                                maximum=budget.MAX_KERNEL))

    def model_kwargs(self) -> dict[str, Any]:
        """The arguments of ``explorer.models.nin.NiN`` (plain literals)."""
        return dict(blocks=tuple((block.out_channels, block.kernel_size, block.stride, block.padding,
                                  block.one_by_one_channels) for block in self.blocks),
                    in_channels=self.in_channels, num_classes=self.num_classes, pool_kernel=self.pool_kernel,
                    pool_stride=self.pool_stride, dropout=self.dropout, head_kernel_size=self.head_kernel_size)

    def _plan(self, planner: Planner) -> None:
        for index, block in enumerate(self.blocks, 1):
            where = f"NiN block {index}"
            planner.conv(where, block.out_channels, block.kernel_size, block.stride, block.padding)
            for width in block.one_by_one_channels:
                planner.conv(where, width, 1)
            planner.pool(f"{where} max-pool", self.pool_kernel, self.pool_stride)
        kernel = self.head_kernel_size
        planner.conv("classifier block", self.num_classes, kernel, 1, kernel // 2)
        planner.conv("classifier block", self.num_classes, 1)
        planner.conv("classifier block", self.num_classes, 1)
        planner.adaptive_pool("global average pool", 1)
        planner.flatten("head")
