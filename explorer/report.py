"""Plain-text rendering of an analysis: the CLI's table and the exported text summary."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis


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
    header = f"{'layer':<34} {'kind':<9} {'output':>16} {'params':>13} {'MACs':>15} {'RF':>5} {'stride':>6}"
    lines = [title] if title else []
    lines += [f"input {shape_text(analysis.input_shape)}", header, "-" * len(header)]
    for layer in analysis.layers:
        if layer.kind in hide:
            continue
        lines.append(f"{layer.name:<34.34} {layer.kind:<9} {shape_text(layer.output_shape):>16} "
                     f"{layer.params:>13,} {layer.macs:>15,} {layer.receptive_field:>5} {layer.effective_stride:>6}")
    lines.append("-" * len(header))
    lines += [
        f"total params            {analysis.total_params:,} ({human_count(analysis.total_params)})",
        f"total MACs (per image)  {analysis.total_macs:,} ({human_count(analysis.total_macs)})",
        f"parameter memory        {human_bytes(analysis.param_bytes)} (fp32)",
        f"activations (per image) {human_bytes(analysis.activation_bytes)}",
        f"training memory, batch {batch}: {human_bytes(analysis.training_memory_bytes(batch))} "
        "(weights + grads + Adam state + saved activations, fp32)",
        f"receptive field of the last feature layer: {analysis.feature_receptive_field} px",
        f"output {shape_text(analysis.output_shape)}",
    ]
    return "\n".join(lines)
