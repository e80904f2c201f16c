"""Analysis -> what the Explore panel shows (HTML cards, table rows, Markdown). Pure: no Gradio."""
from __future__ import annotations

import html
from typing import Any

from ..analysis import Analysis, LayerAnalysis
from ..charts.analysis import (MEMORY_ASSUMPTIONS, macs_chart, memory_chart, params_chart, shape_flow_chart,
                               summary_cards)
from ..report import human_bytes, human_count, shape_text

CHARTS = ("Parameters", "Shape flow", "MACs", "Memory")
TABLE_HEADERS = ["layer", "kind", "block", "input", "output", "kernel / stride / pad", "params", "MACs",
                 "activations", "receptive field (px)", "cumulative stride (px)"]
_TABLE_HIDDEN_KINDS = {"relu", "dropout", "flatten"}


def _card_label(label: str, chinese: bool) -> str:
    if not chinese:
        return label
    from .i18n import ZH  # the labels are computed here, so they are translated here too

    head, _, batch = label.partition(" (batch ")
    return ZH.get(head, head) + (f"（批量 {batch.rstrip(')')}）" if batch else "")


def headline_html(analysis: Analysis, *, batch_size: int, chinese: bool = False) -> str:
    cards = "".join(f'<div class="stat"><div class="stat-label">{html.escape(_card_label(label, chinese))}</div>'
                    f'<div class="stat-value">{html.escape(value)}</div></div>'
                    for label, value in summary_cards(analysis, batch_size=batch_size))
    return f'<div class="stats" id="headline">{cards}</div>'


def _geometry(layer: LayerAnalysis) -> str:
    """The layer's own kernel / stride / padding ("—" for layers without a window)."""
    if layer.kernel_size is None:
        return "—"
    return f"{layer.kernel_size} / {layer.stride or 1} / {layer.padding or 0}"


def layer_rows(analysis: Analysis) -> list[list[Any]]:
    """The Layers table: one row per layer with weights or a window, and one per merge of branches."""
    return [[layer.name, layer.kind, layer.block, shape_text(layer.input_shape) or "—",
             shape_text(layer.output_shape), _geometry(layer), f"{layer.params:,}", human_count(layer.macs),
             human_bytes(layer.activation_bytes), layer.receptive_field, layer.effective_stride]
            for layer in analysis.layers if layer.kind not in _TABLE_HIDDEN_KINDS]


def chart_figure(name: str, analysis: Analysis, *, log_scale: bool = False):  # noqa: ANN201 - plotly Figure
    if name == "Shape flow":
        return shape_flow_chart(analysis, log_scale=log_scale)
    if name == "MACs":
        return macs_chart(analysis, log_scale=log_scale)
    if name == "Memory":
        return memory_chart(analysis)
    return params_chart(analysis, log_scale=log_scale)


def _delta(new: float, old: float, fmt) -> str:  # noqa: ANN001
    diff = new - old
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    pct = f" ({100 * diff / old:+.1f}%)" if old else ""
    return f"{sign}{fmt(abs(diff))}{pct}"


def compare_markdown(first: Analysis, second: Analysis, *, batch_size: int, labels: tuple[str, str] = ("A", "B"),
                     per_block: bool = True) -> str:
    """A vs B: headline figures with deltas, then per-block parameters."""
    a, b = labels
    rows = [
        ("Parameters", first.total_params, second.total_params, lambda v: f"{v:,.0f}"),
        ("MACs / image", first.total_macs, second.total_macs, human_count),
        ("Parameter memory", first.param_bytes, second.param_bytes, human_bytes),
        (f"Training memory (batch {batch_size}, {MEMORY_ASSUMPTIONS})", first.training_memory_bytes(batch_size),
         second.training_memory_bytes(batch_size), human_bytes),
        ("Receptive field (px)", first.feature_receptive_field, second.feature_receptive_field, lambda v: f"{v:.0f}"),
    ]
    lines = [f"| | {a} (pinned) | {b} (editing) | {b} − {a} |", "|---|---:|---:|---:|"]
    for label, old, new, fmt in rows:
        lines.append(f"| {label} | {fmt(old)} | {fmt(new)} | {_delta(new, old, fmt)} |")
    if per_block:
        old_blocks = {block.name: block for block in first.blocks}
        new_blocks = {block.name: block for block in second.blocks}
        names = list(dict.fromkeys([*old_blocks, *new_blocks]))
        lines += ["", f"| block | {a} params | {b} params | {b} − {a} | {a} output | {b} output |",
                  "|---|---:|---:|---:|---|---|"]
        for name in names:
            old, new = old_blocks.get(name), new_blocks.get(name)
            change = _delta(new.params, old.params, lambda v: f"{v:,.0f}") if old and new else "—"
            lines.append(f"| {name} | {f'{old.params:,}' if old else '—'} | {f'{new.params:,}' if new else '—'} | "
                         f"{change} | {shape_text(old.output_shape) if old else '—'} | "
                         f"{shape_text(new.output_shape) if new else '—'} |")
    return "\n".join(lines)
