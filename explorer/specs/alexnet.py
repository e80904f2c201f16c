"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012): five convs and three FC layers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import budget
from .base import ArchSpec
from .budget import Planner
from .errors import SpecError
from .fields import check_bool, check_choice, check_float, check_int, check_int_tuple, check_optional_int

#: Convs split in two groups in the paper's two-GPU layout (1-based): conv2, conv4, conv5.
GROUPED_CONVS = (2, 4, 5)


@dataclass(frozen=True)
class AlexNetSpec(ArchSpec):
    """AlexNet. Defaults are torchvision's ``alexnet`` (3x224x224, 1000 classes, no LRN, no groups)."""

    family = "alexnet"
    family_label = "AlexNet"

    in_channels: int = 3
    num_classes: int = 1000
    input_size: int = 224
    conv_channels: tuple[int, int, int, int, int] = (64, 192, 384, 256, 256)  # the paper: 96, 256, 384, 384, 256
    conv1_kernel: int = 11
    conv1_stride: int = 4
    conv1_padding: int = 2
    hidden_sizes: tuple[int, ...] = (4096, 4096)
    dropout: float = 0.5
    # Local response normalisation after conv1 and conv2, with the paper's constants (n, alpha, beta, k).
    lrn: bool = False
    lrn_size: int = 5
    lrn_alpha: float = 1e-4  # the paper's alpha; PyTorch's LocalResponseNorm gets alpha * size (it divides by n)
    lrn_beta: float = 0.75
    lrn_k: float = 2.0
    overlapping_pool: bool = True  # 3x3 windows with stride 2 (the paper's); False: plain 2x2/2
    groups: int = 1  # 2 splits conv2, conv4 and conv5 in two halves, as the original two-GPU network
    avgpool_size: int | None = 6  # torchvision's AdaptiveAvgPool2d((6, 6)); None flattens as they are (d2l)

    def _normalize(self) -> None:
        self._set("conv_channels", check_int_tuple(self.conv_channels, "conv_channels", min_length=5,
                                                   max_length=5, minimum=1, maximum=budget.MAX_CHANNELS,
                                                   example="(64, 192, 384, 256, 256)",
                                                   item_hint="one per conv layer", item_hint_zh="每个卷积层一个"))
        self._set("conv1_kernel", check_int(self.conv1_kernel, "conv1_kernel", minimum=1, maximum=budget.MAX_KERNEL,
                                            hint="the paper uses 11", hint_zh="论文用 11"))
        self._set("conv1_stride", check_int(self.conv1_stride, "conv1_stride", minimum=1, maximum=budget.MAX_KERNEL,
                                            hint="the paper uses 4", hint_zh="论文用 4"))
        most = self.conv1_kernel // 2
        self._set("conv1_padding", check_int(self.conv1_padding, "conv1_padding", minimum=0, maximum=most,
                                             hint=f"at most half the kernel size: {most} for conv1_kernel "
                                                  f"{self.conv1_kernel}",
                                             hint_zh=f"最多为卷积核大小的一半：conv1_kernel 为 {self.conv1_kernel} 时"
                                                     f"最多为 {most}"))
        self._set("hidden_sizes", check_int_tuple(self.hidden_sizes, "hidden_sizes", min_length=0, max_length=8,
                                                  minimum=1, maximum=budget.MAX_HIDDEN, example="(4096, 4096)",
                                                  item="hidden layer", item_zh="个隐藏层"))
        self._set("dropout", check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, include_maximum=False,
                                         hint="0.5 drops half the activations while training",
                                         hint_zh="0.5 表示训练时丢弃一半的激活值"))
        self._set("lrn", check_bool(self.lrn, "lrn"))
        self._set("lrn_size", check_int(self.lrn_size, "lrn_size", minimum=1, maximum=budget.MAX_KERNEL,
                                        hint="the paper uses 5", hint_zh="论文用 5"))
        self._set("lrn_alpha", check_float(self.lrn_alpha, "lrn_alpha", minimum=0.0, maximum=10.0,
                                           hint="the paper uses 0.0001", hint_zh="论文用 0.0001"))
        self._set("lrn_beta", check_float(self.lrn_beta, "lrn_beta", minimum=0.0, maximum=10.0,
                                          hint="the paper uses 0.75", hint_zh="论文用 0.75"))
        self._set("lrn_k", check_float(self.lrn_k, "lrn_k", minimum=0.0, maximum=100.0, hint="the paper uses 2",
                                       hint_zh="论文用 2"))
        self._set("overlapping_pool", check_bool(self.overlapping_pool, "overlapping_pool"))
        self._set("groups", check_choice(self.groups, "groups", (1, 2),
                                         hint="2 splits conv2, conv4 and conv5 in two halves, as the paper",
                                         hint_zh="2 表示像论文那样把 conv2、conv4 和 conv5 各分成两半"))
        self._set("avgpool_size", check_optional_int(self.avgpool_size, "avgpool_size", minimum=1, maximum=64,
                                                     hint="6 as torchvision, or none to flatten as d2l does",
                                                     hint_zh="torchvision 用 6；填 none 则像 d2l 那样直接展平"))
        if self.groups > 1:
            channels = (self.in_channels, *self.conv_channels)
            for conv in GROUPED_CONVS:
                for side, value in (("in", channels[conv - 1]), ("out", channels[conv])):
                    if value % self.groups:
                        what = f"input channels (conv{conv - 1}'s output)" if side == "in" else "output channels"
                        nearest = value - value % self.groups
                        what_zh = f"输入通道数（即 conv{conv - 1} 的输出）" if side == "in" else "输出通道数"
                        options = f"{nearest} or {nearest + self.groups}" if nearest else f"{self.groups}"
                        options_zh = f"{nearest} 或 {nearest + self.groups}" if nearest else f"{self.groups}"
                        raise SpecError(f"conv_channels[{conv - 1}]" if side == "out" else
                                        f"conv_channels[{conv - 2}]",
                                        f"conv{conv} is split into {self.groups} groups, so its {what} must be "
                                        f"divisible by {self.groups}, got {value}; try "
                                        f"{options}, or set groups to 1",
                                        f"conv{conv} 被分成 {self.groups} 组，所以它的{what_zh}必须能被 {self.groups} "
                                        f"整除，收到的是 {value}；可以试试 {options_zh}，或把 groups 设为 1")

    def conv_groups(self, conv: int) -> int:
        """Groups of conv ``conv`` (1-based)."""
        return self.groups if conv in GROUPED_CONVS else 1

    @property
    def pool_window(self) -> tuple[int, int]:
        return (3, 2) if self.overlapping_pool else (2, 2)

    def conv_geometry(self) -> tuple[tuple[int, int, int], ...]:
        """(kernel, stride, padding) of the five convs."""
        return ((self.conv1_kernel, self.conv1_stride, self.conv1_padding), (5, 1, 2), (3, 1, 1), (3, 1, 1),
                (3, 1, 1))

    def model_kwargs(self) -> dict[str, Any]:
        """The arguments of ``explorer.models.alexnet.AlexNet`` (plain literals)."""
        convs = tuple((width, kernel, stride, padding, self.conv_groups(index))
                      for index, ((kernel, stride, padding), width) in
                      enumerate(zip(self.conv_geometry(), self.conv_channels), 1))
        # PyTorch divides alpha by the window size (the paper does not), so pass alpha * n.
        lrn = (self.lrn_size, self.lrn_alpha * self.lrn_size, self.lrn_beta, self.lrn_k) if self.lrn else None
        flat_features = next(layer.out_shape[0] for layer in self.planned_layers() if layer.operation == "flatten")
        return dict(convs=convs, in_channels=self.in_channels, num_classes=self.num_classes, lrn=lrn,
                    pool_window=self.pool_window, avgpool_size=self.avgpool_size, flat_features=flat_features,
                    hidden_sizes=self.hidden_sizes, dropout=self.dropout)

    def _plan(self, planner: Planner) -> None:
        kernels = self.conv_geometry()
        pool_kernel, pool_stride = self.pool_window
        for conv, ((kernel, stride, padding), channels) in enumerate(zip(kernels, self.conv_channels), 1):
            planner.conv(f"conv{conv}", channels, kernel, stride, padding, groups=self.conv_groups(conv))
            if self.lrn and conv in (1, 2):
                planner.same_shape(f"conv{conv} LRN", "LRN")
            if conv in (1, 2, 5):
                planner.pool(f"conv{conv} max-pool", pool_kernel, pool_stride)
        if self.avgpool_size is not None:
            planner.adaptive_pool("avgpool", self.avgpool_size)
        planner.flatten("classifier")
        for index, width in enumerate((*self.hidden_sizes, self.num_classes), 1):
            planner.linear(f"classifier fc{index}", width)
