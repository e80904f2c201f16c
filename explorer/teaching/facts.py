"""Named quantities the explanations and the lessons share: each is a pure function of a spec, an analysis or
plain numbers, documented with its formula and tested against an independent computation (tests/test_teaching.py).

Block-level facts read the analysis record (``analysis.blocks``: kind, name, params, receptive field, branches)
and the measured layers (kernel, input and output shapes), never module names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..analysis import Analysis, BlockAnalysis, BranchAnalysis, LayerAnalysis

#: Width of the fully connected layer a global-average head is compared with (AlexNet's and VGG's first FC).
FC_WIDTH = 4096


# --- formatting ---------------------------------------------------------------------------------------------------
def percent(part: float, whole: float) -> str:
    """``part`` as a share of ``whole`` with one decimal ('12.3%'); 'n/a' when ``whole`` is 0."""
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def times(small: float, large: float, *, zh: bool = False) -> str:
    """'20.9x fewer', '1.3x more' or 'the same': ``small`` compared with ``large`` (in Chinese when ``zh``:
    '约为后者的 1/20.9', '是后者的 1.3 倍', '相同')."""
    if not small or not large:
        return "无法比较" if zh else "n/a"
    if small == large:
        return "相同" if zh else "the same"
    if zh:
        return f"约为后者的 1/{large / small:.1f}" if small < large else f"是后者的 {small / large:.1f} 倍"
    return f"{large / small:.1f}x fewer" if small < large else f"{small / large:.1f}x more"


def ratio_zh(first: float, second: float) -> str:
    """:func:`times` as a Chinese clause with the same number ('后者是前者的 20.9 倍' for '20.9x fewer', '前者是后者的
    1.3 倍' for '1.3x more'), where ``times(..., zh=True)`` would write '1/20.9'."""
    if not first or not second:
        return "无法比较"
    if first == second:
        return "两者相同"
    if first < second:
        return f"后者是前者的 {second / first:.1f} 倍"
    return f"前者是后者的 {first / second:.1f} 倍"


# --- convolutions -------------------------------------------------------------------------------------------------
def conv_weights(kernel: int, in_channels: int, out_channels: int, *, groups: int = 1) -> int:
    """Weights of a kxk conv: k²·C_in·C_out / groups (each group reads C_in/groups channels)."""
    return kernel * kernel * (in_channels // groups) * out_channels


def conv_params(kernel: int, in_channels: int, out_channels: int, *, groups: int = 1, bias: bool = True) -> int:
    """Weights plus one bias per output channel."""
    return conv_weights(kernel, in_channels, out_channels, groups=groups) + (out_channels if bias else 0)


def layer_weights(layer: LayerAnalysis) -> int:
    """The weights of a measured conv layer (no bias, no batch norm): k²·C_in·C_out / groups."""
    return conv_weights(layer.kernel_size or 1, layer.input_shape[0], layer.output_shape[0], groups=layer.groups)


@dataclass(frozen=True)
class StackedConvs:
    """n stacked kxk convs (stride 1) against one conv that sees the same window, C channels in and out."""

    num_convs: int
    channels: int
    kernel: int = 3

    @property
    def window(self) -> int:
        """The window the stack sees: n·(k−1) + 1 (5 for two 3x3 convs, 7 for three)."""
        return self.num_convs * (self.kernel - 1) + 1

    @property
    def stacked_params(self) -> int:
        """n·(k²·C² + C)."""
        return self.num_convs * conv_params(self.kernel, self.channels, self.channels)

    @property
    def single_params(self) -> int:
        """window²·C² + C."""
        return conv_params(self.window, self.channels, self.channels)

    @property
    def saved(self) -> int:
        return self.single_params - self.stacked_params


def grouped_saving(kernel: int, in_channels: int, out_channels: int, groups: int) -> int:
    """Weights a conv split in ``groups`` saves against a full one: k²·C_in·C_out·(1 − 1/groups)."""
    return conv_weights(kernel, in_channels, out_channels) - conv_weights(kernel, in_channels, out_channels,
                                                                          groups=groups)


# --- blocks and branches ------------------------------------------------------------------------------------------
def convs_of(analysis: Analysis, block: BlockAnalysis | str) -> list[LayerAnalysis]:
    """The conv layers of a recorded block, in order."""
    name = block if isinstance(block, str) else block.name
    return [layer for layer in analysis.layers_of(name) if layer.kind == "conv"]


def branch_layers(analysis: Analysis, branch: BranchAnalysis) -> list[LayerAnalysis]:
    """The measured layers of one branch of a block (none for an identity shortcut)."""
    return [layer for layer in analysis.layers
            if any(layer.name == path or layer.name.startswith(path + ".") for path in branch.modules)]


def branch_widths(block: BlockAnalysis) -> tuple[int, ...]:
    """Output channels of each branch; a concatenating block outputs their sum."""
    return tuple(branch.width for branch in block.branches)


@dataclass(frozen=True)
class Reduction:
    """A branch whose kxk conv reads a 1x1 reduction of the block's input (Inception's 3x3 and 5x5 branches)."""

    block: str
    branch: str
    in_channels: int  # the block's input
    reduced: int  # the 1x1 conv's output (ch3x3red / ch5x5red)
    out_channels: int  # the kxk conv's output (ch3x3 / ch5x5)
    kernel: int

    @property
    def with_reduction(self) -> int:
        """C_in·r + r·k²·C_out weights."""
        return conv_weights(1, self.in_channels, self.reduced) + conv_weights(self.kernel, self.reduced,
                                                                              self.out_channels)

    @property
    def without_reduction(self) -> int:
        """C_in·k²·C_out weights: the kxk conv on every input channel."""
        return conv_weights(self.kernel, self.in_channels, self.out_channels)

    @property
    def saved(self) -> int:
        return self.without_reduction - self.with_reduction


def reductions(analysis: Analysis, block: BlockAnalysis) -> list[Reduction]:
    """Each branch of ``block`` that starts with a 1x1 conv followed by a larger one, measured on its layers."""
    found = []
    for branch in block.branches:
        convs = [layer for layer in branch_layers(analysis, branch) if layer.kind == "conv"]
        if len(convs) >= 2 and (convs[0].kernel_size or 1) == 1 and (convs[-1].kernel_size or 1) > 1:
            found.append(Reduction(block.name, branch.name, block.input_shape[0], convs[0].output_shape[0],
                                   convs[-1].output_shape[0], convs[-1].kernel_size or 1))
    return found


def blocks_of_kind(analysis: Analysis, kind: str) -> tuple[BlockAnalysis, ...]:
    return tuple(block for block in analysis.blocks if block.kind == kind)


def plain_conv_weights(block: BlockAnalysis, kernel: int = 3) -> int:
    """Weights of one plain kxk conv with the block's input and output widths (VGG-style instead)."""
    return conv_weights(kernel, block.input_shape[0], block.output_shape[0])


# --- the head -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadShare:
    head_params: int  # the classifier head's (auxiliary heads are not in it)
    total_params: int
    feature_macs: int  # the feature blocks' multiply-adds
    total_macs: int


def head_share(analysis: Analysis) -> HeadShare:
    """Where the parameters and the multiply-adds are: the head vs the feature blocks."""
    return HeadShare(head_params=sum(block.params for block in analysis.blocks if block.kind == "head"),
                     total_params=analysis.total_params,
                     feature_macs=sum(block.macs for block in analysis.feature_blocks),
                     total_macs=analysis.total_macs)


def map_before(analysis: Analysis, layer: LayerAnalysis) -> tuple[int, ...] | None:
    """The (C, H, W) map a linear layer reads, when a Flatten (maybe then dropout/ReLU) comes before it."""
    index = analysis.layers.index(layer) - 1
    while index >= 0 and analysis.layers[index].kind in ("dropout", "relu"):
        index -= 1
    if index >= 0 and analysis.layers[index].kind == "flatten":
        return analysis.layers[index].input_shape
    return None


def first_fc(analysis: Analysis) -> LayerAnalysis | None:
    """The head's first weighted layer (a linear layer, or its conv form)."""
    return next((layer for block in analysis.blocks if block.kind == "head"
                 for layer in analysis.layers_of(block.name) if layer.kind in ("linear", "conv")), None)


def fc_params(feature_shape: tuple[int, ...], width: int = FC_WIDTH) -> int:
    """Parameters of a ``width``-unit fully connected layer on a flattened map: C·H·W·width + width."""
    return math.prod(feature_shape) * width + width


def last_feature_shape(analysis: Analysis) -> tuple[int, ...]:
    """The output of the last feature block (what the head reads)."""
    features = analysis.feature_blocks
    return features[-1].output_shape if features else analysis.input_shape


# --- receptive fields ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldStep:
    block: str
    output_shape: tuple[int, ...]
    receptive_field: int
    effective_stride: int


def receptive_field_growth(analysis: Analysis) -> list[FieldStep]:
    """The receptive field (and the input pixels between neighbouring outputs) after each feature block."""
    return [FieldStep(block.name, block.output_shape, block.receptive_field, block.effective_stride)
            for block in analysis.feature_blocks]


@dataclass(frozen=True)
class HeadField:
    """Where the head reads the whole map at once (a flatten or a global pooling) and what its row shows."""

    layer: str  # the flatten / global pool
    fc: str | None  # the first fully connected layer, if any
    input_rf: int  # receptive field of one position of the map it reads
    positions: int  # the map's side
    effective_stride: int  # input pixels between neighbouring positions
    receptive_field: int  # what the Layers table shows from that row on

    @property
    def formula_holds(self) -> bool:
        """rf = rf_in + (side − 1)·stride: the window spans every position."""
        return self.input_rf + (self.positions - 1) * self.effective_stride == self.receptive_field


def head_receptive_field(analysis: Analysis) -> HeadField | None:
    """The head layer that gathers the whole last map (Flatten or global pooling), or None without one."""
    head = [layer for block in analysis.blocks if block.kind == "head" for layer in analysis.layers_of(block.name)]
    for index, layer in enumerate(head):
        gathers = (len(layer.input_shape) == 3 and layer.input_shape[-1] > 1
                   and (len(layer.output_shape) == 1 or layer.output_shape[-1] == 1))
        if gathers:
            position = analysis.layers.index(layer)
            before = analysis.layers[position - 1]
            fc = next((later.name for later in head[index:] if later.kind == "linear"), None)
            return HeadField(layer.name, fc, before.receptive_field, layer.input_shape[-1],
                             before.effective_stride, layer.receptive_field)
    return None


# --- local response normalisation ---------------------------------------------------------------------------------
def lrn_pytorch_alpha(paper_alpha: float, size: int) -> float:
    """PyTorch's ``LocalResponseNorm`` divides alpha by the window size n; passing alpha·n gives the paper's LRN."""
    return paper_alpha * size


def lrn_formulas(size: int, paper_alpha: float, beta: float, k: float, *, zh: bool = False) -> str:
    """The paper's formula, PyTorch's, and how the constants map (Markdown, one paragraph)."""
    torch_alpha = lrn_pytorch_alpha(paper_alpha, size)
    if zh:
        return (f"论文中写作 b = a / (k + α·Σ a²)^β，求和范围是相邻的 n = {size} 个通道，其中 k = {k:g}，α = "
                f"{paper_alpha:g}，β = {beta:g}。PyTorch 的 `nn.LocalResponseNorm` 计算 b = a / (k + α′/n·Σ a²)^β："
                f"它把 α′ 除以 n。所以模型取 α′ = α·n = {paper_alpha:g}·{size} = {torch_alpha:g}，而 α′/n = "
                f"{paper_alpha:g} 又回到论文中的 α。")
    return (f"The paper writes b = a / (k + α·Σ a²)^β, the sum over n = {size} neighbouring channels, with "
            f"k = {k:g}, α = {paper_alpha:g}, β = {beta:g}. PyTorch's `nn.LocalResponseNorm` computes "
            f"b = a / (k + α′/n·Σ a²)^β: it divides α′ by n. So the model gets α′ = α·n = {paper_alpha:g}·{size} "
            f"= {torch_alpha:g}, and α′/n = {paper_alpha:g} is the paper's α again.")
