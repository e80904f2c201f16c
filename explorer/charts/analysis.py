"""Analysis -> Plotly figures. Pure functions: no Gradio, no model building; lean figures (template "none").

Every text a figure shows is English, or Simplified Chinese with ``zh=True`` (the page follows the browser's
language); layer and block names are identifiers and stay as they are."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from ..analysis import Analysis, LayerAnalysis
from ..report import human_bytes, human_count, kind_name, shape_text

#: Layers worth a point on the shape-flow chart (merges are an Inception block's concatenated output).
_SHAPE_KINDS = {"conv", "maxpool", "avgpool", "linear", "flatten", "concat", "add"}
_PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC",
            "#EECA3B")
_MARGIN = dict(l=60, r=20, t=40, b=40)
#: Legends sit top-left, under the title and clear of Plotly's toolbar (top-right).
#: Measured from the top of the figure (yref "container"), so on a narrow phone plot a legend that wraps grows
#: downwards into the margin instead of up into the title.
_LEGEND = dict(orientation="h", yref="container", yanchor="top", x=0, xanchor="left")
_TITLE_PX = 30  # the title's line at the top of the figure


def _layout(fig: go.Figure, title: str, **kwargs: object) -> go.Figure:
    title_settings = dict(text=title, x=0.01, font=dict(size=14), yref="container", y=1, yanchor="top",
                          pad=dict(t=8))
    settings: dict[str, object] = dict(template="none", title=title_settings, margin=_MARGIN, height=320,
                                       hovermode="closest", showlegend=False)
    settings.update(kwargs)
    if settings.get("showlegend"):
        height = float(settings.get("height") or 320)  # type: ignore[arg-type]
        settings.setdefault("legend", {**_LEGEND, "y": 1 - _TITLE_PX / height})
        settings["margin"] = {**_MARGIN, "t": 64}
    fig.update_layout(**settings)
    fig.update_xaxes(automargin=True)  # rotated layer names are never cut
    fig.update_yaxes(automargin=True)
    return fig


def _short_name(layer: LayerAnalysis) -> str:
    parts = layer.name.split(".")
    return ".".join(parts[1:]) if parts[0] in ("features", "head") and len(parts) > 1 else layer.name


def _block_colors(layers: Sequence[LayerAnalysis]) -> list[str]:
    order = list(dict.fromkeys(layer.block for layer in layers))
    return [_PALETTE[order.index(layer.block) % len(_PALETTE)] for layer in layers]


def _hover(layer: LayerAnalysis, zh: bool = False) -> str:
    if zh:
        return (f"<b>{layer.name}</b><br>{kind_name(layer.kind, zh=True)}，块 {layer.block}"
                f"<br>输出 {shape_text(layer.output_shape)}<br>参数量 {layer.params:,}<br>乘加运算 {layer.macs:,}"
                f"<br>感受野 {layer.receptive_field} px")
    return (f"<b>{layer.name}</b><br>{layer.kind}, block {layer.block}<br>output {shape_text(layer.output_shape)}"
            f"<br>params {layer.params:,}<br>MACs {layer.macs:,}<br>receptive field {layer.receptive_field} px")


def params_chart(analysis: Analysis, *, log_scale: bool = False, zh: bool = False) -> go.Figure:
    """Parameters per layer (layers with weights only), coloured by block; hover names the layer."""
    layers = [layer for layer in analysis.layers if layer.params > 0]
    fig = go.Figure(go.Bar(x=[_short_name(layer) for layer in layers], y=[layer.params for layer in layers],
                           marker_color=_block_colors(layers), hovertext=[_hover(layer, zh) for layer in layers],
                           hoverinfo="text"))
    total = human_count(analysis.total_params)
    _layout(fig, f"每层参数量（共 {total}）" if zh else f"Parameters per layer (total {total})",
            yaxis=dict(type="log" if log_scale else "linear", title="参数量" if zh else "parameters"),
            xaxis=dict(showticklabels=len(layers) <= 40, tickangle=-45))
    return fig


def macs_chart(analysis: Analysis, *, log_scale: bool = False, zh: bool = False) -> go.Figure:
    """Multiply-adds per layer for one image."""
    layers = [layer for layer in analysis.layers if layer.macs > 0]
    fig = go.Figure(go.Bar(x=[_short_name(layer) for layer in layers], y=[layer.macs for layer in layers],
                           marker_color=_block_colors(layers), hovertext=[_hover(layer, zh) for layer in layers],
                           hoverinfo="text"))
    total = human_count(analysis.total_macs)
    return _layout(fig, f"每层乘加运算（每张图像共 {total}）" if zh else f"MACs per layer (total {total} per image)",
                   yaxis=dict(title="乘加运算" if zh else "multiply-adds", type="log" if log_scale else "linear"),
                   xaxis=dict(showticklabels=len(layers) <= 40, tickangle=-45))


def main_path(analysis: Analysis) -> list[LayerAnalysis]:
    """The layers the main signal passes through: no aux heads, and a block with parallel branches only by its
    merged output (an Inception block's concatenation, a residual block's sum)."""
    kinds = {block.name: block.kind for block in analysis.blocks}
    in_branch = {layer for block in analysis.blocks if block.branches for layer in block.layers}
    return [layer for layer in analysis.layers if kinds.get(layer.block) != "aux" and layer.name not in in_branch]


def shape_flow_chart(analysis: Analysis, *, log_scale: bool = True, zh: bool = False) -> go.Figure:
    """Channels (bars) and spatial size (line, right axis) along the network's main path."""
    layers = [layer for layer in main_path(analysis) if layer.kind in _SHAPE_KINDS]
    names = [_short_name(layer) for layer in layers]
    channels = [layer.output_shape[0] for layer in layers]
    spatial = [layer.output_shape[1] if len(layer.output_shape) == 3 else None for layer in layers]
    hover = [_hover(layer, zh) for layer in layers]
    spatial_title = "空间尺寸（px）" if zh else "spatial size (px)"
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=channels, name="通道数 / 特征数" if zh else "channels / features",
                         marker_color="#4C78A8", hovertext=hover, hoverinfo="text"))
    fig.add_trace(go.Scatter(x=names, y=spatial, name=spatial_title, yaxis="y2", mode="lines+markers",
                             line=dict(color="#F58518"), hovertext=hover, hoverinfo="text", connectgaps=False))
    return _layout(fig, "形状变化：通道数与空间尺寸" if zh else "Shape flow: channels and spatial size",
                   yaxis=dict(title="通道数" if zh else "channels", type="log" if log_scale else "linear",
                              dtick=1 if log_scale else None, minor=dict(showgrid=False)),
                   yaxis2=dict(title=dict(text=spatial_title, standoff=12), overlaying="y", side="right",
                               automargin=True),
                   xaxis=dict(showticklabels=len(layers) <= 40, tickangle=-45), showlegend=True)


#: What the Explore figures of training memory assume (the Train tab's memory model, with these settings).
MEMORY_ASSUMPTIONS = "fp32, Adam, GPU"
MEMORY_ASSUMPTIONS_ZH = "fp32，Adam，GPU"
#: :attr:`TrainingMemory.peak_phase` in Chinese.
_PHASE_ZH = {"forward/backward": "前向/反向传播", "optimizer step": "优化器更新"}


def memory_chart(analysis: Analysis, batch_sizes: Sequence[int] = (1, 8, 32, 128, 256), *,
                 zh: bool = False) -> go.Figure:
    """The modelled peak of a training step by batch size (:meth:`Analysis.training_memory`, the Train tab's
    model; fp32, Adam, on a GPU), split into what does not grow with the batch (weights, Adam's two moments, the
    GPU's workspace) and what does at the peak (activations kept for backward and the gradients that exist then,
    or, when the optimizer step is the peak, the gradients and its temporaries)."""
    estimates = [analysis.training_memory(batch) for batch in batch_sizes]
    fixed = [estimate.weights + estimate.optimizer_state + estimate.workspace for estimate in estimates]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[str(batch) for batch in batch_sizes], y=[value / 2**20 for value in fixed],
                         name="权重 + Adam 状态 + 工作区" if zh else "weights + Adam state + workspace",
                         marker_color="#4C78A8"))
    peaks = [f"峰值出现在{_PHASE_ZH.get(estimate.peak_phase, estimate.peak_phase)}" if zh
             else f"peak in the {estimate.peak_phase}" for estimate in estimates]
    fig.add_trace(go.Bar(x=[str(batch) for batch in batch_sizes],
                         y=[(estimate.total - value) / 2**20 for estimate, value in zip(estimates, fixed)],
                         name="峰值时的激活值 + 梯度" if zh else "activations + gradients at the peak",
                         marker_color="#F58518", hovertext=peaks))
    title = (f"训练内存估计（{MEMORY_ASSUMPTIONS_ZH}；MiB）" if zh
             else f"Training memory estimate ({MEMORY_ASSUMPTIONS}; MiB)")
    return _layout(fig, title, barmode="stack", showlegend=True,
                   xaxis=dict(title="批量大小" if zh else "batch size", type="category"), yaxis=dict(title="MiB"))


def block_compare_chart(first: Analysis, second: Analysis, *, labels: tuple[str, str] = ("A", "B"),
                        zh: bool = False) -> go.Figure:
    """Parameters per block of two networks side by side."""
    fig = go.Figure()
    for analysis, label, color in ((first, labels[0], "#4C78A8"), (second, labels[1], "#F58518")):
        rows = analysis.block_totals()
        fig.add_trace(go.Bar(x=[row["block"] for row in rows], y=[row["params"] for row in rows], name=label,
                             marker_color=color,
                             hovertext=[f"{label} {row['block']}：参数量 {row['params']:,}，乘加运算 "
                                        f"{human_count(row['macs'])}" if zh else
                                        f"{label} {row['block']}: {row['params']:,} params, "
                                        f"{human_count(row['macs'])} MACs" for row in rows], hoverinfo="text"))
    return _layout(fig, "每块参数量" if zh else "Parameters per block", barmode="group", showlegend=True,
                   yaxis=dict(title="参数量" if zh else "parameters"))


def summary_cards(analysis: Analysis, *, batch_size: int, zh: bool = False) -> list[tuple[str, str]]:
    """The headline figures as (label, value) pairs (labels in Chinese when ``zh``; the values are the same)."""
    if zh:
        return [
            ("参数量", f"{human_count(analysis.total_params)} ({analysis.total_params:,})"),
            ("每张图乘加运算", human_count(analysis.total_macs)),
            ("参数内存", human_bytes(analysis.param_bytes)),
            (f"训练内存（批量 {batch_size}，{MEMORY_ASSUMPTIONS_ZH}）",
             human_bytes(analysis.training_memory_bytes(batch_size))),
            ("感受野", f"{analysis.feature_receptive_field} px"),
            ("输出", shape_text(analysis.output_shape)),
        ]
    return [
        ("Parameters", f"{human_count(analysis.total_params)} ({analysis.total_params:,})"),
        ("MACs / image", human_count(analysis.total_macs)),
        ("Parameter memory", human_bytes(analysis.param_bytes)),
        (f"Training memory (batch {batch_size}, {MEMORY_ASSUMPTIONS})",
         human_bytes(analysis.training_memory_bytes(batch_size))),
        ("Receptive field", f"{analysis.feature_receptive_field} px"),
        ("Output", shape_text(analysis.output_shape)),
    ]
