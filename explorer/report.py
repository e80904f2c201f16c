"""Plain-text rendering of an analysis: the CLI's table and the exported text summary."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis


#: Layer kinds (:attr:`LayerAnalysis.kind`) in Chinese, in the terms of d2l's Chinese edition (卷积层, 批量归一化, ...);
#: pooling is 池化 as everywhere else on the Chinese page.
KIND_ZH = {"conv": "卷积", "linear": "全连接", "batchnorm": "批量归一化", "relu": "ReLU", "maxpool": "最大池化",
           "avgpool": "平均池化", "flatten": "展平", "dropout": "Dropout", "lrn": "局部响应归一化", "concat": "拼接",
           "add": "相加"}


def kind_name(kind: str, *, zh: bool = False) -> str:
    """A layer kind as a table shows it: ``"conv"``, or ``"卷积"`` when ``zh`` (an unknown kind stays as it is)."""
    return KIND_ZH.get(kind, kind) if zh else kind


def human_count(value: float) -> str:
    """1234567 -> '1.23M'."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.2f}{suffix}"
    return f"{value:g}"


def human_bytes(value: float) -> str:
    """1536 -> '1.5 KiB'."""
    for threshold, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f} {suffix}"
    return f"{value:.0f} B"


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def format_summary(analysis: Analysis, *, title: str = "", batch_size: int | None = None,
                   hide: tuple[str, ...] = ("relu", "dropout")) -> str:
    """A per-layer table plus totals. Layers of the kinds in ``hide`` are left out of the table only."""
    batch = analysis.batch_size if batch_size is None else batch_size
    header = (f"{'layer':<34} {'kind':<9} {'input':>14} {'output':>14} {'params':>13} {'MACs':>15} {'RF':>5} "
              f"{'stride':>6}")
    lines = [title] if title else []
    lines += [f"input {shape_text(analysis.input_shape)}", header, "-" * len(header)]
    for layer in analysis.layers:
        if layer.kind in hide:
            continue
        lines.append(f"{layer.name:<34.34} {layer.kind:<9} {shape_text(layer.input_shape):>14} "
                     f"{shape_text(layer.output_shape):>14} {layer.params:>13,} {layer.macs:>15,} "
                     f"{layer.receptive_field:>5} {layer.effective_stride:>6}")
    lines.append("-" * len(header))
    lines += ["", "blocks (as the builder recorded them; RF and stride of each block's output)"]
    block_header = (f"{'block':<14} {'kind':<11} {'input':>14} {'output':>14} {'params':>13} {'MACs':>15} "
                    f"{'RF':>5} {'stride':>6}  branches (width, RF)")
    lines += [block_header, "-" * len(block_header)]
    for block in analysis.blocks:
        branches = ", ".join(f"{branch.name} {branch.width} ({branch.receptive_field})" for branch in block.branches)
        lines.append(f"{block.name:<14.14} {block.kind:<11} {shape_text(block.input_shape):>14} "
                     f"{shape_text(block.output_shape):>14} {block.params:>13,} {block.macs:>15,} "
                     f"{block.receptive_field:>5} {block.effective_stride:>6}  {branches}".rstrip())
    lines.append("-" * len(block_header))
    last_feature = analysis.feature_blocks[-1].name if analysis.feature_blocks else "input"
    lines += [
        f"total params            {analysis.total_params:,} ({human_count(analysis.total_params)})",
        f"total MACs (per image)  {analysis.total_macs:,} ({human_count(analysis.total_macs)})",
        f"parameter memory        {human_bytes(analysis.param_bytes)} (fp32)",
        f"activations (per image) {human_bytes(analysis.activation_bytes)}",
        f"training memory, batch {batch}: {human_bytes(analysis.training_memory_bytes(batch))} "
        "(the peak of a step on a GPU, fp32, Adam: as the Train tab's memory check models it)",
        f"receptive field of the last feature block ({last_feature}): {analysis.feature_receptive_field} px",
        f"output {shape_text(analysis.output_shape)}",
    ]
    return "\n".join(lines)
