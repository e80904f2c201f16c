"""ResNet (He et al., 2015): a stem, stages of residual blocks whose output is ``F(x) + x``, and a global head."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import budget
from .base import ArchSpec, check_keys
from .budget import Planner
from .errors import SpecError
from .fields import check_bool, check_choice, check_int, check_sequence, describe

#: The two block designs: two 3x3 convs (ResNet-18/34), or 1x1 -> 3x3 -> 1x1 widening by 4 (ResNet-50 and up).
BLOCK_TYPES = ("basic", "bottleneck")
#: Output channels of a block per unit of its base width.
EXPANSION = {"basic": 1, "bottleneck": 4}
#: Where the biases and the shortcut's batch norm go (see ResNetSpec.style).
STYLES = ("torchvision", "d2l")
STAGE_FIELDS = ("blocks", "channels", "stride")
MAX_STAGES = 8
MAX_BLOCKS_PER_STAGE = 64  # ResNet-152's third stage has 36
MAX_STRIDE = 4


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``blocks`` residual blocks of the same width; the first one may downsample."""

    blocks: int  # residual blocks in the stage
    channels: int  # the blocks' base width: a basic block outputs it, a bottleneck outputs 4x it
    stride: int  # of the stage's first block (torchvision and d2l: 1 for the first stage, 2 afterwards)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", check_int(self.blocks, "blocks", minimum=1,
                                                     maximum=MAX_BLOCKS_PER_STAGE))
        object.__setattr__(self, "channels", check_int(self.channels, "channels", minimum=1,
                                                       maximum=budget.MAX_CHANNELS))
        object.__setattr__(self, "stride", check_int(self.stride, "stride", minimum=1, maximum=MAX_STRIDE))

    def as_tuple(self) -> tuple[int, int, int]:
        return self.blocks, self.channels, self.stride


def default_stride(index: int) -> int:
    """The first block's stride when a stage does not say: 1 in the first stage (the stem has already
    downsampled by 4), 2 in every later one."""
    return 1 if index == 0 else 2


def parse_stage(value: Any, field: str, index: int) -> StageSpec:
    """A stage from ``(blocks, channels)``, ``(blocks, channels, stride)`` or a mapping with those names."""
    if isinstance(value, StageSpec):
        return value
    if isinstance(value, str):
        value = check_sequence(value, field, min_length=2, max_length=3)
    if isinstance(value, (list, tuple)):
        if len(value) not in (2, 3) or any(isinstance(item, (list, tuple, dict)) for item in value):
            raise SpecError(field, "expected (blocks, channels) or (blocks, channels, stride), "
                                   f"got {describe(value)}",
                            f"应为 (blocks, channels) 或 (blocks, channels, stride)，收到的是 {describe(value)}")
        value = dict(zip(STAGE_FIELDS, value))
    data = dict(check_keys(value, StageSpec, field))
    missing = [name for name in STAGE_FIELDS[:2] if name not in data]
    if missing:
        raise SpecError(field, f"missing {', '.join(missing)}", f"缺少 {', '.join(missing)}")
    data.setdefault("stride", default_stride(index))
    try:
        return StageSpec(**data)
    except SpecError as exc:
        raise SpecError(f"{field}.{exc.field}", exc.message, exc.message_zh) from None


def parse_stages(value: Any, field: str = "stages") -> tuple[StageSpec, ...]:
    """The stage table, as a list or as the text a user types, e.g. ``((2, 64), (2, 128), (2, 256), (2, 512))``."""
    rows = check_sequence(value, field, min_length=1, max_length=MAX_STAGES)
    return tuple(parse_stage(row, f"{field}[{index}]", index) for index, row in enumerate(rows))


def format_stages(stages: tuple[StageSpec, ...]) -> str:
    """The compact text form ``((blocks, channels, stride), ...)``."""
    inner = ", ".join(str(stage.as_tuple()) for stage in stages)
    return f"({inner},)" if len(stages) == 1 else f"({inner})"


RESNET18_STAGES = tuple(StageSpec(2, width, default_stride(index)) for index, width in enumerate((64, 128, 256, 512)))


@dataclass(frozen=True)
class ResNetSpec(ArchSpec):
    """A ResNet. Defaults are torchvision's ``resnet18`` (basic blocks, BN, 3x224x224, 1000 classes)."""

    family = "resnet"
    family_label = "ResNet"

    # One entry per stage (torchvision's layer1..layer4): (blocks, base channels, first block's stride).
    stages: tuple[StageSpec, ...] = RESNET18_STAGES
    block: str = "basic"  # "basic": 3x3 -> 3x3; "bottleneck": 1x1 -> 3x3 -> 1x1 with 4x wider output
    in_channels: int = 3
    num_classes: int = 1000
    input_size: int = 224
    stem_channels: int = 64  # the stem: 7x7/2 conv -> BN -> ReLU -> 3x3/2 max-pool (padding 1)
    batch_norm: bool = True  # BN after every conv (and in the shortcut, in torchvision's style)
    # "torchvision": convs without bias when BN follows; the projection shortcut is a 1x1 conv + BN.
    # "d2l": every conv has a bias (d2l's nn.Conv2d default); the projection is a 1x1 conv with bias and no BN.
    style: str = "torchvision"

    def _normalize(self) -> None:
        self._set("stages", parse_stages(self.stages))
        self._set("block", check_choice(self.block, "block", BLOCK_TYPES))
        self._set("stem_channels", check_int(self.stem_channels, "stem_channels", minimum=1,
                                             maximum=budget.MAX_CHANNELS))
        self._set("batch_norm", check_bool(self.batch_norm, "batch_norm"))
        self._set("style", check_choice(self.style, "style", STYLES))
        for index, stage in enumerate(self.stages):
            if stage.channels * self.expansion > budget.MAX_CHANNELS:
                raise SpecError(f"stages[{index}].channels", f"{stage.channels} x {self.expansion} (bottleneck "
                                f"expansion) is over the limit of {budget.MAX_CHANNELS} channels",
                                f"{stage.channels} x {self.expansion}（bottleneck 的扩展倍数）超过了通道数上限 "
                                f"{budget.MAX_CHANNELS}")

    @property
    def expansion(self) -> int:
        """Output channels of a block per unit of base width: 1 (basic) or 4 (bottleneck)."""
        return EXPANSION[self.block]

    @property
    def conv_bias(self) -> bool:
        """Whether the convolutions have biases: always in d2l's style, otherwise only without BN."""
        return self.style == "d2l" or not self.batch_norm

    @property
    def shortcut_bn(self) -> bool:
        """Whether a projection shortcut ends with BN (torchvision's ``downsample = conv1x1 + BN``)."""
        return self.style == "torchvision" and self.batch_norm

    @property
    def num_blocks(self) -> int:
        return sum(stage.blocks for stage in self.stages)

    @property
    def accepts_any_input_size(self) -> bool:
        """Global average pooling before the FC layer: any input size works."""
        return True

    def block_plan(self) -> tuple[tuple[str, int, int, int, bool], ...]:
        """Every residual block as ``(name, in_channels, out_channels, stride, projection)``.

        ``name`` is torchvision's module path (``layer2.0``); a block gets a projection shortcut (a strided 1x1
        conv) when its stride is not 1 or its channels change, torchvision's rule; otherwise the identity.
        """
        blocks = []
        channels = self.stem_channels
        for stage_index, stage in enumerate(self.stages, 1):
            out_channels = stage.channels * self.expansion
            for block_index in range(stage.blocks):
                stride = stage.stride if block_index == 0 else 1
                projection = stride != 1 or channels != out_channels
                blocks.append((f"layer{stage_index}.{block_index}", channels, out_channels, stride, projection))
                channels = out_channels
        return tuple(blocks)

    def model_kwargs(self) -> dict[str, Any]:
        """The arguments of ``explorer.models.resnet.ResNet`` (plain literals)."""
        return dict(stages=tuple(stage.as_tuple() for stage in self.stages), block=self.block,
                    in_channels=self.in_channels, num_classes=self.num_classes, stem_channels=self.stem_channels,
                    batch_norm=self.batch_norm, conv_bias=self.conv_bias, shortcut_bn=self.shortcut_bn)

    def _conv(self, planner: Planner, where: str, out_channels: int, kernel: int, stride: int = 1,
              padding: int = 0, *, bn: bool) -> None:
        planner.conv(where, out_channels, kernel, stride, padding, bias=self.conv_bias)
        if bn:
            planner.batch_norm(where)

    def _plan(self, planner: Planner) -> None:
        bn = self.batch_norm
        self._conv(planner, "stem conv1", self.stem_channels, 7, 2, 3, bn=bn)
        planner.pool("stem maxpool", 3, 2, 1)
        for name, in_channels, out_channels, stride, projection in self.block_plan():
            where = f"residual block {name}"
            size = planner.size
            if self.block == "basic":
                self._conv(planner, where, out_channels, 3, stride, 1, bn=bn)
                self._conv(planner, where, out_channels, 3, 1, 1, bn=bn)
            else:
                width = out_channels // self.expansion
                self._conv(planner, where, width, 1, bn=bn)
                self._conv(planner, where, width, 3, stride, 1, bn=bn)  # torchvision's v1.5: stride on the 3x3
                self._conv(planner, where, out_channels, 1, bn=bn)
            if projection:  # the shortcut reads the block's input; a strided 1x1 conv (no padding) gives
                # floor((n - 1) / stride) + 1 pixels, the same as the main path's padded 3x3 conv
                planner.channels, planner.size = in_channels, size
                self._conv(planner, f"{where} shortcut", out_channels, 1, stride, bn=self.shortcut_bn)
        planner.adaptive_pool("head", 1)
        planner.flatten("head")
        planner.linear("head fc", self.num_classes)
