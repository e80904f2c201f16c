"""GPU monitor history -> Plotly figures, and the series the training panel overlays. Pure functions, lean figures.

The charts follow the newest snapshot: when it has GPU readings they plot every GPU (snapshots without readings
leave gaps); when it has none they plot the CPU and RAM fallback. The x axis is seconds before the newest reading.
"""
from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go

from ..gpu import GpuReading, Snapshot

_PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D")
_GIB = 2**30


def _uses_gpus(history: Sequence[Snapshot]) -> bool:
    return bool(history) and history[-1].available


def _gpu_indices(history: Sequence[Snapshot]) -> list[int]:
    return [gpu.index for gpu in history[-1].gpus]


def _reading(snapshot: Snapshot, index: int) -> GpuReading | None:
    return next((gpu for gpu in snapshot.gpus if gpu.index == index), None)


def _seconds_ago(history: Sequence[Snapshot]) -> list[float]:
    newest = history[-1].time
    return [round(snapshot.time - newest, 1) for snapshot in history]


def _layout(fig: go.Figure, title: str, *, zh: bool = False, **kwargs: Any) -> go.Figure:
    settings: dict[str, Any] = dict(
        template="none", title=dict(text=title, x=0.01, font=dict(size=14)), height=300,
        margin=dict(l=55, r=15, t=40, b=80), hovermode="x unified",
        legend=dict(orientation="h", x=0, y=-0.3, yanchor="top"),
        xaxis=dict(title="秒前" if zh else "seconds ago", zeroline=False))
    settings.update(kwargs)
    fig.update_layout(**settings)
    return fig


def _empty(title: str, *, zh: bool = False) -> go.Figure:
    text = "等待第一次读数" if zh else "waiting for the first reading"
    return _layout(go.Figure(), title, zh=zh, annotations=[dict(text=text, showarrow=False, xref="paper",
                                                                yref="paper", x=0.5, y=0.5)])


def _line(x: list[float], y: list[Any], name: str, color: str, **kwargs: Any) -> go.Scatter:
    return go.Scatter(x=x, y=y, name=name, mode="lines", line=dict(color=color, width=2), connectgaps=False, **kwargs)


def utilization_figure(history: Sequence[Snapshot], *, zh: bool = False) -> go.Figure:
    """GPU utilisation % (and memory-controller % dotted) per GPU over time; CPU % when there is no GPU.
    ``zh``: titles and names in Chinese."""
    if not history:
        return _empty("利用率" if zh else "Utilisation", zh=zh)
    x = _seconds_ago(history)
    fig = go.Figure()
    if _uses_gpus(history):
        indices = _gpu_indices(history)
        for slot, index in enumerate(indices):
            color = _PALETTE[slot % len(_PALETTE)]
            readings = [_reading(snapshot, index) for snapshot in history]
            fig.add_trace(_line(x, [r.utilization_gpu_percent if r else None for r in readings],
                                f"GPU {index} 忙碌" if zh else f"GPU {index} busy", color))
            fig.add_trace(_line(x, [r.utilization_memory_percent if r else None for r in readings],
                                f"GPU {index} 显存访问" if zh else f"GPU {index} memory traffic", color,
                                line_dash="dot",
                                visible=True if len(indices) <= 2 else "legendonly"))
        title = ("GPU 利用率：有内核运行的时间（实线）、显存访问（虚线）" if zh
                 else "GPU utilisation: time a kernel ran (solid), memory traffic (dotted)")
    else:
        fig.add_trace(_line(x, [snapshot.cpu.cpu_percent for snapshot in history],
                            "CPU（所有核心）" if zh else "CPU (all cores)", _PALETTE[0]))
        title = "CPU 利用率（没有 GPU）" if zh else "CPU utilisation (no GPU)"
    return _layout(fig, title, zh=zh, yaxis=dict(title="%", range=[0, 105]))


def memory_figure(history: Sequence[Snapshot], *, zh: bool = False) -> go.Figure:
    """GPU memory used per GPU over time, the y axis up to the card's total; RAM used when there is no GPU.
    ``zh``: titles and names in Chinese."""
    if not history:
        return _empty("内存" if zh else "Memory", zh=zh)
    x = _seconds_ago(history)
    fig = go.Figure()
    if _uses_gpus(history):
        totals = [gpu.memory_total_bytes for gpu in history[-1].gpus if gpu.memory_total_bytes]
        for slot, index in enumerate(_gpu_indices(history)):
            readings = [_reading(snapshot, index) for snapshot in history]
            used = [r.memory_used_bytes / _GIB if r and r.memory_used_bytes is not None else None for r in readings]
            fig.add_trace(_line(x, used, f"GPU {index} 已用" if zh else f"GPU {index} used",
                                _PALETTE[slot % len(_PALETTE)]))
        total = max(totals) if totals else None
        if zh:
            title = "已用 GPU 显存" + (f"（共 {total / _GIB:.0f} GiB）" if total else "")
        else:
            title = "GPU memory used" + (f" (of {total / _GIB:.0f} GiB)" if total else "")
    else:
        total = history[-1].cpu.ram_total_bytes
        fig.add_trace(_line(x, [s.cpu.ram_used_bytes / _GIB if s.cpu.ram_used_bytes is not None else None
                                for s in history], "已用内存（整机）" if zh else "RAM used (machine)", _PALETTE[0]))
        fig.add_trace(_line(x, [s.cpu.process_rss_bytes / _GIB if s.cpu.process_rss_bytes is not None else None
                                for s in history], "本应用" if zh else "this app", _PALETTE[1], line_dash="dot"))
        if zh:
            title = "已用内存" + (f"（共 {total / _GIB:.1f} GiB）" if total else "") + "（没有 GPU）"
        else:
            title = "RAM used" + (f" of {total / _GIB:.1f} GiB" if total else "") + " (no GPU)"
    yaxis: dict[str, Any] = dict(title="GiB", rangemode="tozero")
    if total:
        yaxis["range"] = [0, total / _GIB * 1.05]
    return _layout(fig, title, zh=zh, yaxis=yaxis)


def gpu_trace_series(history: Sequence[Snapshot], *, zh: bool = False) -> dict[str, Any]:
    """GPU 0's utilisation and memory over time (CPU % and RAM when the newest snapshot has no GPU).

    For overlaying on another chart (the training panel's loss): ``time`` holds ``time.time()`` seconds, so a
    caller subtracts its own start time. Keys: ``source`` ("gpu" or "cpu"), ``utilization_label``,
    ``memory_label``, ``time``, ``utilization`` (%), ``memory_used_bytes`` and ``memory_total_bytes`` (of the
    newest snapshot, or None). Missing readings are None (a gap). ``zh``: the labels in Chinese.
    """
    times = [snapshot.time for snapshot in history]
    if _uses_gpus(history):
        gpu = history[-1].gpus[0]
        readings = [_reading(snapshot, gpu.index) for snapshot in history]
        return dict(source="gpu",
                    utilization_label=f"GPU {gpu.index} 利用率（%）" if zh else f"GPU {gpu.index} utilisation (%)",
                    memory_label=f"GPU {gpu.index} 已用显存" if zh else f"GPU {gpu.index} memory used", time=times,
                    utilization=[r.utilization_gpu_percent if r else None for r in readings],
                    memory_used_bytes=[r.memory_used_bytes if r else None for r in readings],
                    memory_total_bytes=gpu.memory_total_bytes)
    return dict(source="cpu", utilization_label="CPU 利用率（%）" if zh else "CPU utilisation (%)",
                memory_label="已用内存" if zh else "RAM used", time=times,
                utilization=[snapshot.cpu.cpu_percent for snapshot in history],
                memory_used_bytes=[snapshot.cpu.ram_used_bytes for snapshot in history],
                memory_total_bytes=history[-1].cpu.ram_total_bytes if history else None)
