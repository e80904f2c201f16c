"""The training charts: pure functions from event dicts to lean Plotly figures."""
from __future__ import annotations

import time

import plotly.graph_objects as go

from explorer.charts.training import (confusion_matrix_figure, per_class_accuracy_figure, sample_grid_png,
                                      sample_predictions_figure, training_curves_figure)

HISTORY = [
    {"event": "step", "step": 5, "epoch": 1, "epoch_step": 5, "steps_per_epoch": 10, "loss": 2.0, "train_acc": 0.3,
     "elapsed_s": 1.0},
    {"event": "step", "step": 10, "epoch": 1, "epoch_step": 10, "steps_per_epoch": 10, "loss": 1.5,
     "train_acc": 0.5, "elapsed_s": 2.0},
    {"event": "eval", "epoch": 1, "step": 10, "test_acc": 0.55, "elapsed_s": 2.5},
]


def test_curves_have_loss_train_and_test_accuracy() -> None:
    figure = training_curves_figure(HISTORY)
    assert [trace.name for trace in figure.data] == ["train loss", "train acc", "test acc"]
    assert list(figure.data[2].y) == [0.55]
    assert figure.layout.template.to_plotly_json() == {} or figure.layout.template.layout.to_plotly_json() == {}


def test_curves_with_a_gpu_trace_share_the_time_axis() -> None:
    started = time.time()
    gpu = {"time": [started - 5, started + 1, started + 2], "utilization": [10, 90, None],
           "memory_used_bytes": [2**30, 2**31, None], "utilization_label": "GPU 0 utilisation (%)",
           "memory_label": "GPU 0 memory used"}
    figure = training_curves_figure(HISTORY, gpu=gpu, run_started_at=started)
    util = next(trace for trace in figure.data if trace.name == "GPU 0 utilisation (%)")
    assert list(util.x) == [1.0, 2.0]  # readings before the run are left out
    assert len(figure.data) == 5


def test_empty_history_says_so() -> None:
    figure = training_curves_figure([])
    assert "waiting" in figure.layout.annotations[0].text


def test_confusion_and_per_class() -> None:
    classes = ["a", "b"]
    confusion = confusion_matrix_figure([[3, 1], [0, 4]], classes)
    assert confusion.data[0].type == "heatmap" and list(confusion.data[0].z[0]) == [0.75, 0.25]
    bars = per_class_accuracy_figure([0.75, None], classes)
    assert list(bars.data[0].text) == ["0.75", "n/a"]


def test_sample_grid_is_one_small_png() -> None:
    samples = [{"index": i, "label": i % 3, "prediction": (i % 3) if i % 2 else 0, "confidence": 0.9,
                "image": [[(x * y) % 256 for x in range(28)] for y in range(28)]} for i in range(10)]
    uri, tile_width, tile_height, rows = sample_grid_png(samples, columns=8, scale=2)
    assert uri.startswith("data:image/png;base64,") and rows == 2 and tile_height == 56 + 6
    figure = sample_predictions_figure(samples, ["x", "y", "z"])
    assert isinstance(figure, go.Figure) and len(figure.layout.annotations) == 10
    assert len(figure.to_json()) < 60_000
    rgb = [{**samples[0], "image": [[[255, 0, 0]] * 32] * 32}]
    assert sample_predictions_figure(rgb, ["x", "y", "z"]).data[0].type == "image"


def _figure_texts(figure: go.Figure) -> list[str]:
    layout = figure.layout
    texts = [layout.title.text, *(trace.name for trace in figure.data),
             *(annotation.text for annotation in layout.annotations or ())]
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2", "yaxis3", "yaxis4"):
        if axis in layout and layout[axis].title.text:
            texts.append(layout[axis].title.text)
    return [text for text in texts if text]


def test_chinese_charts_have_no_english_words() -> None:
    """Titles, axes and trace names in Chinese; class names are the dataset's own and stay."""
    from tests.chinese_text import english_lines

    started = time.time()
    gpu = {"time": [started + 1, started + 2], "utilization": [10, 90], "memory_used_bytes": [2**30, 2**31],
           "utilization_label": "CPU 利用率（%）", "memory_label": "已用内存"}
    classes = ["0", "1"]
    figures = [
        training_curves_figure(HISTORY, zh=True), training_curves_figure([], zh=True),
        training_curves_figure(HISTORY, gpu=gpu, run_started_at=started, zh=True),
        confusion_matrix_figure([[3, 1], [0, 4]], classes, zh=True), confusion_matrix_figure([], classes, zh=True),
        per_class_accuracy_figure([0.75, None], classes, zh=True), per_class_accuracy_figure([], classes, zh=True),
        sample_predictions_figure([], classes, zh=True),
    ]
    for figure in figures:
        texts = _figure_texts(figure)
        assert texts and not english_lines("\n".join(texts)), texts
    english, chinese = training_curves_figure(HISTORY), training_curves_figure(HISTORY, zh=True)
    assert [list(trace.y) for trace in english.data] == [list(trace.y) for trace in chinese.data]
    assert [trace.name for trace in chinese.data] == ["训练损失", "训练精度", "测试精度"]
