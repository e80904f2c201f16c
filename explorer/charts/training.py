"""Training metrics -> Plotly figures. Pure functions over event dicts (``event.to_dict()``); lean figures.

The curves use seconds since the run started as their x axis, so GPU (or CPU) readings taken at the same time
line up underneath them.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

_LOSS, _TRAIN, _TEST, _UTIL, _MEMORY = "#4C78A8", "#F58518", "#54A24B", "#B279A2", "#9D755D"
_RIGHT, _WRONG = (84, 162, 75), (228, 87, 86)
_GIB = 2**30
_CAPTION_HEIGHT = 38  # pixels under each sample tile: the prediction, and the true label when it is wrong


def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    settings: dict[str, Any] = dict(template="none", title=dict(text=title, x=0.01, font=dict(size=14)),
                                    margin=dict(l=60, r=60, t=40, b=40), height=340, hovermode="x unified",
                                    legend=dict(orientation="h", x=0, y=-0.18, yanchor="top"))
    settings.update(kwargs)
    fig.update_layout(**settings)
    return fig


#: Chinese words of the charts (d2l.ai's Chinese edition: 训练损失, 训练精度, 测试精度, 混淆矩阵).
_ZH = {"waiting for the first steps": "等待最初的几步", "no results yet": "还没有结果", "Training": "训练",
       "train loss": "训练损失", "train acc": "训练精度", "test acc": "测试精度", "loss": "损失", "accuracy": "精度",
       "seconds since start": "自开始以来的秒数", "Confusion matrix": "混淆矩阵",
       "Confusion matrix (rows: true class)": "混淆矩阵（行：真实类别）", "predicted": "预测类别", "true": "真实类别",
       "Per-class accuracy": "各类别精度", "Test accuracy per class": "各类别的测试精度",
       "Sample predictions": "样本预测",
       "Sample predictions: green right, red wrong (true label in brackets)":
           "样本预测：绿色为正确，红色为错误（括号中为真实标签）",
       "GPU utilisation (%)": "GPU 利用率（%）", "GPU memory used": "已用 GPU 显存"}


def _t(text: str, zh: bool) -> str:
    return _ZH.get(text, text) if zh else text


def _empty(title: str, text: str) -> go.Figure:
    return _layout(go.Figure(), title, annotations=[dict(text=text, showarrow=False, xref="paper", yref="paper",
                                                         x=0.5, y=0.5)], xaxis=dict(visible=False),
                   yaxis=dict(visible=False))


def training_curves_figure(history: Sequence[Mapping[str, Any]], *, gpu: Mapping[str, Any] | None = None,
                           run_started_at: float | None = None, title: str = "Training",
                           zh: bool = False) -> go.Figure:
    """Loss and train/test accuracy against seconds since the start, with a GPU/CPU panel underneath.

    Args:
        history: event dicts in order; ``step`` events give the loss and training accuracy (running means over
            the epoch), ``eval`` events the test accuracy.
        gpu: :func:`explorer.charts.gpu.gpu_trace_series` output (``time`` in epoch seconds, ``utilization`` %,
            ``memory_used_bytes``); drawn in a second row when given with ``run_started_at``.
        run_started_at: ``time.time()`` when the run started, to put the readings on the same axis.
        zh: titles, axes and trace names in Chinese.
    """
    title = _t(title, zh)
    steps = [event for event in history if event.get("event") == "step"]
    evals = [event for event in history if event.get("event") == "eval"]
    if not steps and not evals:
        return _empty(title, _t("waiting for the first steps", zh))
    with_gpu = bool(gpu and gpu.get("time") and run_started_at is not None)
    fig = make_subplots(rows=2 if with_gpu else 1, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.68, 0.32] if with_gpu else None,
                        specs=[[{"secondary_y": True}]] * (2 if with_gpu else 1))
    x = [round(event["elapsed_s"], 2) for event in steps]
    epochs = [round(event["epoch"] - 1 + event["epoch_step"] / max(event["steps_per_epoch"], 1), 3)
              for event in steps]
    fig.add_trace(go.Scatter(x=x, y=[event["loss"] for event in steps], name=_t("train loss", zh), mode="lines",
                             line=dict(color=_LOSS, width=2), customdata=epochs,
                             hovertemplate=("损失 %{y:.3f}（第 %{customdata} 个迭代周期）" if zh else
                                            "loss %{y:.3f} (epoch %{customdata})") + "<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[event["train_acc"] for event in steps], name=_t("train acc", zh), mode="lines",
                             line=dict(color=_TRAIN, width=2, dash="dash"),
                             hovertemplate=_t("train acc", zh) + " %{y:.3f}<extra></extra>"), row=1, col=1,
                  secondary_y=True)
    fig.add_trace(go.Scatter(x=[round(event["elapsed_s"], 2) for event in evals],
                             y=[event["test_acc"] for event in evals], name=_t("test acc", zh), mode="lines+markers",
                             line=dict(color=_TEST, width=2), marker=dict(size=8),
                             customdata=[event["epoch"] for event in evals],
                             hovertemplate=("测试精度 %{y:.3f}（第 %{customdata} 个迭代周期之后）" if zh else
                                            "test acc %{y:.3f} (after epoch %{customdata})") + "<extra></extra>"),
                  row=1, col=1, secondary_y=True)
    fig.update_yaxes(title_text=_t("loss", zh), rangemode="tozero", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text=_t("accuracy", zh), range=[0, 1.02], row=1, col=1, secondary_y=True)
    if with_gpu:
        assert gpu is not None and run_started_at is not None
        times = [round(moment - run_started_at, 2) for moment in gpu["time"]]
        keep = [index for index, moment in enumerate(times) if moment >= 0]
        util_label = gpu.get("utilization_label", _t("GPU utilisation (%)", zh))
        memory_label = gpu.get("memory_label", _t("GPU memory used", zh))
        memory = [None if value is None else value / _GIB for value in gpu.get("memory_used_bytes", [])]
        fig.add_trace(go.Scatter(x=[times[i] for i in keep], y=[gpu["utilization"][i] for i in keep],
                                 name=util_label, mode="lines", line=dict(color=_UTIL, width=1.5),
                                 connectgaps=False), row=2, col=1)
        if memory:
            fig.add_trace(go.Scatter(x=[times[i] for i in keep], y=[memory[i] for i in keep],
                                     name=f"{memory_label} (GiB)", mode="lines",
                                     line=dict(color=_MEMORY, width=1.5, dash="dot"), connectgaps=False),
                          row=2, col=1, secondary_y=True)
        fig.update_yaxes(title_text="%", range=[0, 105], row=2, col=1, secondary_y=False)
        fig.update_yaxes(title_text="GiB", rangemode="tozero", row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text=_t("seconds since start", zh), row=2 if with_gpu else 1, col=1)
    return _layout(fig, title, height=460 if with_gpu else 340)


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str], *,
                            zh: bool = False) -> go.Figure:
    """Rows: true class, columns: predicted class. Colour is the row's share; the text is the count."""
    if not matrix:
        return _empty(_t("Confusion matrix", zh), _t("no results yet", zh))
    shares = []
    for row in matrix:
        total = sum(row)
        shares.append([count / total if total else 0.0 for count in row])
    fig = go.Figure(go.Heatmap(z=shares, x=list(classes), y=list(classes), text=[list(row) for row in matrix],
                               texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
                               hovertemplate=("真实 %{y}，预测 %{x}：%{text}" if zh else
                                              "true %{y}, predicted %{x}: %{text}") + "<extra></extra>"))
    size = max(360, 34 * len(classes) + 140)
    return _layout(fig, _t("Confusion matrix (rows: true class)", zh), height=size, hovermode="closest",
                   xaxis=dict(title=_t("predicted", zh), tickangle=-45, side="bottom"),
                   yaxis=dict(title=_t("true", zh), autorange="reversed"), margin=dict(l=110, r=20, t=40, b=110))


def per_class_accuracy_figure(per_class: Sequence[float | None], classes: Sequence[str], *,
                              zh: bool = False) -> go.Figure:
    """Test accuracy of each class as horizontal bars."""
    if not per_class:
        return _empty(_t("Per-class accuracy", zh), _t("no results yet", zh))
    values = [None if value is None else value for value in per_class]
    fig = go.Figure(go.Bar(x=values, y=list(classes), orientation="h", marker_color=_TEST,
                           text=[(("无" if zh else "n/a") if value is None else f"{value:.2f}") for value in values],
                           textposition="auto", hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    return _layout(fig, _t("Test accuracy per class", zh), height=max(300, 26 * len(classes) + 80),
                   hovermode="closest", xaxis=dict(range=[0, 1], title=_t("accuracy", zh)),
                   yaxis=dict(autorange="reversed"),
                   margin=dict(l=120, r=20, t=40, b=40))


def sample_predictions_figure(samples: Sequence[Mapping[str, Any]], classes: Sequence[str], *,
                              columns: int = 8, scale: int = 3, zh: bool = False) -> go.Figure:
    """A grid of test images with a green (right) or red (wrong) frame, captioned with the prediction (and, under a
    wrong one, the true label in brackets).

    The grid is one PNG image, so the figure stays small however many pixels the images have.
    """
    if not samples:
        return _empty(_t("Sample predictions", zh), _t("no results yet", zh))
    png, tile_width, tile_height, rows = sample_grid_png(samples, columns=columns, scale=scale)
    caption_height = _CAPTION_HEIGHT
    width = tile_width * min(columns, len(samples))
    height = rows * (tile_height + caption_height)
    fig = go.Figure(go.Image(source=png, x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    annotations = []
    for position, sample in enumerate(samples):
        row, column = divmod(position, columns)
        predicted, label = classes[sample["prediction"]], classes[sample["label"]]
        right = sample["prediction"] == sample["label"]
        text = predicted if right else f"{predicted}<br>({label})"
        annotations.append(dict(x=column * tile_width + tile_width / 2, y=row * (tile_height + caption_height)
                                + tile_height + 2, text=text, showarrow=False, yanchor="top", xanchor="center",
                                font=dict(size=9, color="#2b7a2b" if right else "#c62828")))
    return _layout(fig, _t("Sample predictions: green right, red wrong (true label in brackets)", zh),
                   height=height + 70, width=None, hovermode=False, annotations=annotations,
                   xaxis=dict(visible=False, range=[0, width]),
                   yaxis=dict(visible=False, range=[height, 0], scaleanchor="x"),
                   margin=dict(l=10, r=10, t=40, b=10))


def sample_grid_png(samples: Sequence[Mapping[str, Any]], *, columns: int = 8,
                    scale: int = 3) -> tuple[str, int, int, int]:
    """The sample images tiled into one PNG data URI; returns it, the tile width and height, and the row count.

    Each tile is the image scaled up ``scale`` times (nearest neighbour) inside a 3-pixel frame coloured by
    whether the prediction was right, above a blank strip for the caption.
    """
    import numpy as np
    from PIL import Image

    caption_height, border = _CAPTION_HEIGHT, 3
    images = [np.asarray(sample["image"], dtype=np.uint8) for sample in samples]
    height = max(image.shape[0] for image in images) * scale
    width = max(image.shape[1] for image in images) * scale
    tile_width, tile_height = width + 2 * border + 16, height + 2 * border
    rows = -(-len(samples) // columns)
    canvas = np.full((rows * (tile_height + caption_height), tile_width * min(columns, len(samples)), 3), 255,
                     dtype=np.uint8)
    for position, (sample, image) in enumerate(zip(samples, images)):
        row, column = divmod(position, columns)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
        top, left = row * (tile_height + caption_height), column * tile_width + 8
        color = _RIGHT if sample["prediction"] == sample["label"] else _WRONG
        canvas[top:top + tile_height, left:left + width + 2 * border] = color
        canvas[top + border:top + border + image.shape[0], left + border:left + border + image.shape[1]] = image
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return uri, tile_width, tile_height, rows
