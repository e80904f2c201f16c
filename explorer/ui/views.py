"""Analysis -> what the Explore panel shows (HTML cards, table rows, Markdown). Pure: no Gradio.

Each view is English, or Simplified Chinese with ``chinese=True`` (the browser's language, for text computed on
the server); numbers and layer/block names are the same in both."""
from __future__ import annotations

import html
from typing import Any

from ..analysis import Analysis, LayerAnalysis
from ..charts.analysis import (MEMORY_ASSUMPTIONS, MEMORY_ASSUMPTIONS_ZH, macs_chart, memory_chart, params_chart,
                               shape_flow_chart, summary_cards)
from ..report import human_bytes, human_count, kind_name, shape_text

CHARTS = ("Parameters", "Shape flow", "MACs", "Memory")
#: The charts a log axis means something for (Memory stacks two parts of one estimate: a log axis would distort it).
LOG_SCALE_CHARTS = ("Parameters", "Shape flow", "MACs")
TABLE_HEADERS = ["layer", "kind", "block", "input", "output", "kernel / stride / pad", "params", "MACs",
                 "activations", "receptive field (px)", "cumulative stride (px)"]
#: :data:`TABLE_HEADERS` in Chinese (d2l's terms).
TABLE_HEADERS_ZH = ["层", "类型", "块", "输入", "输出", "核 / 步幅 / 填充", "参数量", "乘加运算", "激活值", "感受野（px）",
                    "累积步幅（px）"]
_TABLE_HIDDEN_KINDS = {"relu", "dropout", "flatten"}


def headline_html(analysis: Analysis, *, batch_size: int, chinese: bool = False) -> str:
    cards = "".join(f'<div class="stat"><div class="stat-label">{html.escape(label)}</div>'
                    f'<div class="stat-value">{html.escape(value)}</div></div>'
                    for label, value in summary_cards(analysis, batch_size=batch_size, zh=chinese))
    return f'<div class="stats" id="headline">{cards}</div>'


def _geometry(layer: LayerAnalysis) -> str:
    """The layer's own kernel / stride / padding ("—" for layers without a window)."""
    if layer.kernel_size is None:
        return "—"
    return f"{layer.kernel_size} / {layer.stride or 1} / {layer.padding or 0}"


def layer_rows(analysis: Analysis, *, chinese: bool = False) -> list[list[Any]]:
    """The Layers table: one row per layer with weights or a window, and one per merge of branches."""
    return [[layer.name, kind_name(layer.kind, zh=chinese), layer.block, shape_text(layer.input_shape) or "—",
             shape_text(layer.output_shape), _geometry(layer), f"{layer.params:,}", human_count(layer.macs),
             human_bytes(layer.activation_bytes), layer.receptive_field, layer.effective_stride]
            for layer in analysis.layers if layer.kind not in _TABLE_HIDDEN_KINDS]


def layer_table(analysis: Analysis, *, chinese: bool = False) -> dict[str, list]:
    """The Layers table's value with its headers (a Dataframe takes both: the headers follow the language)."""
    return {"headers": TABLE_HEADERS_ZH if chinese else TABLE_HEADERS,
            "data": layer_rows(analysis, chinese=chinese)}


def chart_figure(name: str, analysis: Analysis, *, log_scale: bool = False,
                 chinese: bool = False):  # noqa: ANN201 - plotly Figure
    if name == "Shape flow":
        return shape_flow_chart(analysis, log_scale=log_scale, zh=chinese)
    if name == "MACs":
        return macs_chart(analysis, log_scale=log_scale, zh=chinese)
    if name == "Memory":
        return memory_chart(analysis, zh=chinese)
    return params_chart(analysis, log_scale=log_scale, zh=chinese)


def _delta(new: float, old: float, fmt) -> str:  # noqa: ANN001
    diff = new - old
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    pct = f" ({100 * diff / old:+.1f}%)" if old else ""
    return f"{sign}{fmt(abs(diff))}{pct}"


#: The compare table's words: (English, Chinese).
_COMPARE_WORDS = {
    "params": ("Parameters", "参数量"), "macs": ("MACs / image", "每张图乘加运算"),
    "param_memory": ("Parameter memory", "参数内存"),
    "training_memory": ("Training memory (batch {batch}, {assumptions})", "训练内存（批量 {batch}，{assumptions}）"),
    "receptive_field": ("Receptive field (px)", "感受野（px）"), "pinned": ("{} (pinned)", "{}（固定）"),
    "editing": ("{} (editing)", "{}（编辑中）"), "block": ("block", "块"), "block_params": ("{} params", "{} 参数量"),
    "block_output": ("{} output", "{} 输出"),
}


def compare_markdown(first: Analysis, second: Analysis, *, batch_size: int, labels: tuple[str, str] = ("A", "B"),
                     per_block: bool = True, chinese: bool = False) -> str:
    """A vs B: headline figures with deltas, then per-block parameters."""
    a, b = labels
    words = {key: pair[chinese] for key, pair in _COMPARE_WORDS.items()}
    training = words["training_memory"].format(batch=batch_size,
                                               assumptions=MEMORY_ASSUMPTIONS_ZH if chinese else MEMORY_ASSUMPTIONS)
    rows = [
        (words["params"], first.total_params, second.total_params, lambda v: f"{v:,.0f}"),
        (words["macs"], first.total_macs, second.total_macs, human_count),
        (words["param_memory"], first.param_bytes, second.param_bytes, human_bytes),
        (training, first.training_memory_bytes(batch_size), second.training_memory_bytes(batch_size), human_bytes),
        (words["receptive_field"], first.feature_receptive_field, second.feature_receptive_field,
         lambda v: f"{v:.0f}"),
    ]
    lines = [f"| | {words['pinned'].format(a)} | {words['editing'].format(b)} | {b} − {a} |", "|---|---:|---:|---:|"]
    for label, old, new, fmt in rows:
        lines.append(f"| {label} | {fmt(old)} | {fmt(new)} | {_delta(new, old, fmt)} |")
    if per_block:
        old_blocks = {block.name: block for block in first.blocks}
        new_blocks = {block.name: block for block in second.blocks}
        names = list(dict.fromkeys([*old_blocks, *new_blocks]))
        lines += ["", f"| {words['block']} | {words['block_params'].format(a)} | {words['block_params'].format(b)} | "
                      f"{b} − {a} | {words['block_output'].format(a)} | {words['block_output'].format(b)} |",
                  "|---|---:|---:|---:|---|---|"]
        for name in names:
            old, new = old_blocks.get(name), new_blocks.get(name)
            change = _delta(new.params, old.params, lambda v: f"{v:,.0f}") if old and new else "—"
            lines.append(f"| {name} | {f'{old.params:,}' if old else '—'} | {f'{new.params:,}' if new else '—'} | "
                         f"{change} | {shape_text(old.output_shape) if old else '—'} | "
                         f"{shape_text(new.output_shape) if new else '—'} |")
    return "\n".join(lines)
