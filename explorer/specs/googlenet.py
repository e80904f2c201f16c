"""GoogLeNet (Inception v1, Szegedy et al., 2014): a stem, nine Inception blocks and a global-average head."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import budget
from .base import ArchSpec, check_keys
from .budget import Planner
from .errors import SpecError
from .fields import check_bool, check_choice, check_float, check_int, check_int_tuple, check_sequence, got_zh, show

#: The nine Inception blocks in order; max-pools (stride 2) follow 3b and 4e.
INCEPTION_NAMES = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
INCEPTION_FIELDS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
POOL_AFTER = {"3b", "4e"}
STAGE_POOL_BEFORE = ("3a", "4a", "5a")  # the max-pool that opens each stage (3a's is the stem's pool1)
AUX_AFTER = ("4a", "4d")  # the blocks whose outputs the two aux classifiers read
#: What a user writes for one block, in messages (inception 3a in d2l's form).
INCEPTION_EXAMPLE = "(64, (96, 128), (16, 32), 32)"
INCEPTION_FORMS = ("six numbers (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) "
                   "or d2l's (c1, (c2red, c2), (c3red, c3), c4)")
INCEPTION_FORMS_ZH = ("六个数 (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)，"
                      "或 d2l 的写法 (c1, (c2red, c2), (c3red, c3), c4)")


@dataclass(frozen=True)
class InceptionSpec:
    """One Inception block with torchvision's field names. Its input channels are derived, never typed."""

    ch1x1: int  # branch 1: 1x1 conv
    ch3x3red: int  # branch 2: 1x1 reduction before the 3x3 conv
    ch3x3: int  # branch 2: 3x3 conv
    ch5x5red: int  # branch 3: 1x1 reduction before the "5x5" conv
    ch5x5: int  # branch 3: the "5x5" conv (3x3 in torchvision, see GoogLeNetSpec.ch5x5_kernel)
    pool_proj: int  # branch 4: 3x3 max-pool then a 1x1 projection

    def __post_init__(self) -> None:
        for name in INCEPTION_FIELDS:
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum=1,
                                                     maximum=budget.MAX_CHANNELS, hint="channels",
                                                     hint_zh="通道数"))

    @property
    def out_channels(self) -> int:
        """Channels of the concatenated output: the four branches side by side."""
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in INCEPTION_FIELDS)


def parse_inception(value: Any, field: str) -> InceptionSpec:
    """An Inception block from a mapping with the six named fields, a list of six ints, or d2l's nested form
    ``(c1, (c2red, c2), (c3red, c3), c4)``."""
    if isinstance(value, InceptionSpec):
        return value
    if isinstance(value, str):
        # Any length here: the check below explains the two forms.
        value = check_sequence(value, field, min_length=0, max_length=64, expected="an Inception block",
                               example=INCEPTION_EXAMPLE, item="number", expected_zh="一个 Inception 块",
                               item_zh="个数")
    if isinstance(value, (list, tuple)):
        # Either six plain numbers, or d2l's four items whose middle two are (reduction, width) pairs;
        # any other grouping would shift numbers into the wrong fields.
        nested = [isinstance(item, (list, tuple)) for item in value]
        flat: list[Any] = []
        if len(value) == 4 and nested == [False, True, True, False] and all(len(value[i]) == 2 for i in (1, 2)):
            flat = [value[0], *value[1], *value[2], value[3]]
        elif not any(nested):
            flat = list(value)
        if len(flat) != 6:
            raise SpecError(field, f"an Inception block is {INCEPTION_FORMS}, like {INCEPTION_EXAMPLE}; "
                                   f"got {show(value)}",
                            f"Inception 块是{INCEPTION_FORMS_ZH}，例如 {INCEPTION_EXAMPLE}；"
                            f"{got_zh(value)}")
        value = dict(zip(INCEPTION_FIELDS, flat))
    data = check_keys(value, InceptionSpec, field, example=INCEPTION_EXAMPLE, what="Inception block",
                      what_zh="Inception 块")
    missing = [name for name in INCEPTION_FIELDS if name not in data]
    if missing:
        raise SpecError(field, f"is missing {', '.join(missing)}; an Inception block needs all six of "
                               f"{', '.join(INCEPTION_FIELDS)}",
                        f"缺少 {', '.join(missing)}；Inception 块需要全部六项：{', '.join(INCEPTION_FIELDS)}")
    try:
        return InceptionSpec(**data)
    except SpecError as exc:
        raise SpecError(f"{field}.{exc.field}", exc.message, exc.message_zh) from None


#: torchvision's (and the paper's) Inception table. Inception 4e is (256, 160, 320, 32, 128, 128).
PAPER_INCEPTIONS = (
    (64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64),
    (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
    (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128),
    (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128),
)


@dataclass(frozen=True)
class GoogLeNetSpec(ArchSpec):
    """GoogLeNet. Defaults are torchvision's ``googlenet`` (BN, no aux heads, 3x224x224, 1000 classes)."""

    family = "googlenet"
    family_label = "GoogLeNet"

    inceptions: tuple[InceptionSpec, ...] = tuple(InceptionSpec(*row) for row in PAPER_INCEPTIONS)
    in_channels: int = 3
    num_classes: int = 1000
    input_size: int = 224
    stem_channels: tuple[int, int, int] = (64, 64, 192)  # 7x7/2 conv, 1x1 conv, 3x3 conv
    batch_norm: bool = True  # conv (no bias) -> BN -> ReLU as torchvision; False: conv (bias) -> ReLU as d2l
    aux_logits: bool = False  # the two auxiliary classifiers after 4a and 4d (used in training only)
    # Kernel of branch 3's wide conv. The paper and d2l use 5; torchvision uses 3 (a known bug it keeps
    # for weight compatibility), so its presets say 3 to reproduce its parameter count.
    ch5x5_kernel: int = 3
    # "ceil": torchvision's max-pools (3x3/2, ceil_mode, a 2x2/2 before 5a); "pad": d2l's 3x3/2 with padding 1.
    pool_mode: str = "ceil"
    dropout: float = 0.2  # before the final FC layer
    aux_dropout: float = 0.7

    def _normalize(self) -> None:
        rows = check_sequence(self.inceptions, "inceptions", min_length=9, max_length=9,
                              expected="a list of nine Inception blocks", example=f"({INCEPTION_EXAMPLE}, ...)",
                              item="block", item_hint=f"one per Inception block, {INCEPTION_NAMES[0]} to {INCEPTION_NAMES[-1]}",
                              expected_zh="由九个 Inception 块组成的列表", item_zh="个块",
                              item_hint_zh=f"每个 Inception 块一个，从 {INCEPTION_NAMES[0]} 到 {INCEPTION_NAMES[-1]}")
        self._set("inceptions", tuple(parse_inception(row, f"inceptions.{name}")
                                      for name, row in zip(INCEPTION_NAMES, rows)))
        self._set("stem_channels", check_int_tuple(self.stem_channels, "stem_channels", min_length=3, max_length=3,
                                                   minimum=1, maximum=budget.MAX_CHANNELS, example="(64, 64, 192)",
                                                   item_hint="the 7x7, 1x1 and 3x3 convs",
                                                   item_hint_zh="依次是 7x7、1x1 和 3x3 卷积"))
        self._set("batch_norm", check_bool(self.batch_norm, "batch_norm"))
        self._set("aux_logits", check_bool(self.aux_logits, "aux_logits"))
        self._set("ch5x5_kernel", check_choice(self.ch5x5_kernel, "ch5x5_kernel", (3, 5),
                                               hint="5 as the paper, 3 as torchvision",
                                               hint_zh="论文用 5，torchvision 用 3"))
        self._set("pool_mode", check_choice(self.pool_mode, "pool_mode", ("ceil", "pad"),
                                            hint="ceil as torchvision, pad as d2l",
                                            hint_zh="torchvision 用 ceil，d2l 用 pad"))
        self._set("dropout", check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, include_maximum=False,
                                         hint="0.2 drops a fifth of the features while training",
                                         hint_zh="0.2 表示训练时丢弃五分之一的特征"))
        self._set("aux_dropout", check_float(self.aux_dropout, "aux_dropout", minimum=0.0, maximum=1.0,
                                             include_maximum=False, hint="the paper uses 0.7",
                                             hint_zh="论文用 0.7"))

    def inception_in_channels(self) -> tuple[int, ...]:
        """Each block's input channels, derived from the block before it (or the stem)."""
        channels = [self.stem_channels[2]]
        for block in self.inceptions[:-1]:
            channels.append(block.out_channels)
        return tuple(channels)

    def stage_pool(self, name: str) -> tuple[int, int, int, bool]:
        """(kernel, stride, padding, ceil_mode) of the max-pool that opens a stage."""
        if self.pool_mode == "pad":
            return 3, 2, 1, False
        return (2, 2, 0, True) if name == "5a" else (3, 2, 0, True)

    def model_kwargs(self) -> dict[str, Any]:
        """The arguments of ``explorer.models.googlenet.GoogLeNet`` (plain literals)."""
        return dict(inceptions=tuple((name, block.as_tuple()) for name, block in zip(INCEPTION_NAMES, self.inceptions)),
                    in_channels=self.in_channels, num_classes=self.num_classes, stem_channels=self.stem_channels,
                    batch_norm=self.batch_norm, wide_kernel=self.ch5x5_kernel,
                    stage_pools={name: self.stage_pool(name) for name in INCEPTION_NAMES
                                 if name in STAGE_POOL_BEFORE},
                    pool_ceil=self.pool_mode == "ceil", aux_after=AUX_AFTER, aux_logits=self.aux_logits,
                    dropout=self.dropout, aux_dropout=self.aux_dropout)

    def _conv(self, planner: Planner, where: str, out_channels: int, kernel: int, stride: int = 1,
              padding: int = 0) -> None:
        planner.conv(where, out_channels, kernel, stride, padding, bias=not self.batch_norm)
        if self.batch_norm:
            planner.batch_norm(where)

    def _plan(self, planner: Planner) -> None:
        conv1, conv2, conv3 = self.stem_channels
        self._conv(planner, "stem conv1", conv1, 7, 2, 3)
        kernel, stride, padding, ceil = self.stage_pool("3a")
        planner.pool("stem pool1", kernel, stride, padding, ceil_mode=ceil)
        self._conv(planner, "stem conv2", conv2, 1)
        self._conv(planner, "stem conv3", conv3, 3, 1, 1)
        for name, block in zip(INCEPTION_NAMES, self.inceptions):
            if name in STAGE_POOL_BEFORE:
                kernel, stride, padding, ceil = self.stage_pool(name)
                planner.pool(f"pool before inception {name}", kernel, stride, padding, ceil_mode=ceil)
            in_channels = planner.channels
            where = f"inception {name}"
            wide = self.ch5x5_kernel
            branches = (((block.ch1x1, 1),), ((block.ch3x3red, 1), (block.ch3x3, 3)),
                        ((block.ch5x5red, 1), (block.ch5x5, wide)))
            for branch in branches:
                planner.channels = in_channels
                for channels, kernel in branch:
                    self._conv(planner, where, channels, kernel, 1, kernel // 2)
            planner.channels = in_channels
            planner.pool(where, 3, 1, 1, ceil_mode=self.pool_mode == "ceil")
            self._conv(planner, where, block.pool_proj, 1)
            planner.channels = block.out_channels
            if self.aux_logits and name in AUX_AFTER:
                self._plan_aux(planner, f"aux classifier after {name}")
        planner.adaptive_pool("head", 1)
        planner.flatten("head")
        planner.linear("head fc", self.num_classes)

    def _plan_aux(self, planner: Planner, where: str) -> None:
        saved = planner.channels, planner.size, planner.features
        planner.adaptive_pool(where, 4)
        self._conv(planner, where, 128, 1)
        planner.flatten(where)
        planner.linear(where, 1024)
        planner.linear(where, self.num_classes)
        planner.channels, planner.size, planner.features = saved
