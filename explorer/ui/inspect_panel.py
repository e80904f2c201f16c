"""The Inspect tab: look inside a trained network (issue #13).

The network is the last run of this browser session (the Train tab's checkpoint) or a checkpoint this app wrote,
uploaded. The image is one of the run's test images (a gallery with misclassified ones first), a drawing or an
upload. The tab shows what the network sees, the top-5 classes, every block's feature maps (Inception blocks: the
four branches side by side), the first layer's filters and Grad-CAM for a class and block the user picks.

Callbacks are thin: :mod:`explorer.inspection` does the work. Each view function returns a dict of the outputs it
changes, keyed by name (:data:`OUTPUTS`); a bad file or image changes nothing but the message (and raises a
``gr.Warning``). Loaded networks live in a small per-process cache (:class:`CheckpointCache`), keyed by file; the
session holds only the key, never the model.
"""
from __future__ import annotations

import html
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ..inspection import (ImageError, Inspection, LoadedCheckpoint, default_gradcam_block, gradcam_blocks,
                          inspect_image, load_checkpoint)
from ..inspection.checkpoints import MAX_CHECKPOINT_BYTES
from ..models import main_logits
from ..specs import SpecError
from ..training.data import DatasetUnavailable, dataset_info, load_dataset
from .i18n import tr, wants_chinese

#: The environment variable that sets the largest upload (checkpoints, images, runs), in MB.
MAX_UPLOAD_ENV = "EXPLORER_MAX_UPLOAD_MB"
#: Its default: VGG-16/19 checkpoints are about 530-550 MB, d2l's small VGG-11 about 68 MB.
DEFAULT_MAX_UPLOAD_MB = 600
#: Test images shown in the gallery, misclassified ones first.
GALLERY_SIZE = 12
#: The gallery is chosen among at most this many test images, fewer for a costly network (see MAC_BUDGET).
GALLERY_CANDIDATES = 256
#: Multiply-accumulates spent choosing the gallery (VGG-16 at 224 px: about 12 images).
MAC_BUDGET = 2e11
#: Networks kept loaded per process, and the most parameter memory they may hold together.
CACHE_ENTRIES = 3
CACHE_BYTES = 2 * 2**30
PREDICTED = -1  # the Grad-CAM class dropdown's "predicted class"

#: Every output a view may change, by name.
OUTPUTS = ("network", "network_md", "message", "gallery", "gallery_items", "cam_class", "cam_block",
           "feature_block", "image", "result", "seen", "top", "gradcam", "features", "features_md", "branches",
           "filters", "details")

INTRO = " ".join("""**Look inside a trained network.** Train one in the *Train* tab (or upload a checkpoint this app wrote),
then pick a test image, draw one or upload one: see what the network sees, its five most likely classes, what
every block computes (the most active channels), the first layer's filters, and Grad-CAM — where in the image the
evidence for a class lies.""".split())  # one line: the key of its translation


NO_NETWORK = "**Network:** none yet."
NO_NETWORK_ZH = "**网络：** 还没有。"
#: This module's own error messages (and the inspection package's common ones) in Chinese.
ERRORS_ZH = {
    "no network yet: train one in the Train tab or upload a checkpoint (.pt)":
        "还没有网络：请在训练页训练一个，或上传检查点（.pt）",
    "the network's file is no longer on the server (files are deleted after a while); train again or upload the "
    "checkpoint again": "网络文件已不在服务器上（文件过一段时间会被删除）；请重新训练或重新上传检查点",
    "no finished run with a checkpoint in this session yet: train a network in the Train tab first (or upload a "
    "checkpoint)": "本会话中还没有带检查点的已完成训练：请先在训练页训练一个网络（或上传检查点）",
    "no image yet: pick a test image, draw one or upload one": "还没有图像：请选一张测试图像、手绘一张或上传一张",
    "nothing drawn yet: draw a shape (or a digit) on the canvas first": "还没有画任何东西：请先在画布上画一个图形（或数字）",
    "the canvas is blank: draw a shape (or a digit) on the canvas first": "画布是空白的：请先在画布上画一个图形（或数字）",
}


def chinese(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` asks for Chinese (server-computed text follows it)."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


def max_upload_mb() -> int:
    """The largest upload, in MB (``EXPLORER_MAX_UPLOAD_MB``; default 600, enough for a VGG-16 checkpoint)."""
    text = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_UPLOAD_MB
    try:
        value = int(float(text))
    except ValueError:
        raise SpecError(MAX_UPLOAD_ENV, f"expected a whole number of MB, got {text[:40]!r}") from None
    if not 1 <= value <= MAX_CHECKPOINT_BYTES // 2**20:
        raise SpecError(MAX_UPLOAD_ENV, f"must be from 1 to {MAX_CHECKPOINT_BYTES // 2**20} MB, got {value}")
    return value


def max_file_size() -> str:
    """``launch(max_file_size=...)``: :func:`max_upload_mb` in Gradio's notation."""
    return f"{max_upload_mb()}mb"


# -- loaded networks ----------------------------------------------------------------------------------------------


class CheckpointCache:
    """A few loaded checkpoints, least recently used dropped first; keyed by (path, size, mtime)."""

    def __init__(self, entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self._items: OrderedDict[tuple, tuple[LoadedCheckpoint, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike) -> LoadedCheckpoint:
        """The checkpoint at ``path``, loaded (CheckpointError for a bad file)."""
        key = _file_key(path)
        with self._lock:
            if key is not None and key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        checkpoint = load_checkpoint(path)  # outside the lock: a large file takes seconds
        size = sum(tensor.numel() * tensor.element_size()
                   for tensor in (*checkpoint.model.parameters(), *checkpoint.model.buffers()))
        with self._lock:
            if key is not None:
                self._items[key] = (checkpoint, size)
                while len(self._items) > self.entries or (
                        len(self._items) > 1 and sum(item[1] for item in self._items.values()) > self.max_bytes):
                    self._items.popitem(last=False)
        return checkpoint

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _file_key(path: str | os.PathLike) -> tuple | None:
    try:
        stat = Path(path).stat()
        return (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError, TypeError):
        return None


CACHE = CheckpointCache()


def get_network(path: str | None) -> LoadedCheckpoint:
    if not path:
        raise SpecError("checkpoint", "no network yet: train one in the Train tab or upload a checkpoint (.pt)")
    if _file_key(path) is None:
        raise SpecError("checkpoint", "the network's file is no longer on the server (files are deleted after a "
                                      "while); train again or upload the checkpoint again")
    return CACHE.get(path)


# -- pure views ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryItem:
    """One test image in the gallery."""

    pixels: np.ndarray  # uint8 at the dataset's resolution: H x W or H x W x 3
    label: int
    predicted: int
    confidence: float


def describe_network(checkpoint: LoadedCheckpoint, *, zh: bool = False) -> str:
    """The loaded network in two lines (Markdown); ``zh``: in Chinese."""
    spec, analysis = checkpoint.spec, checkpoint.analysis
    info = dataset_info(checkpoint.dataset)
    metrics = checkpoint.metrics or {}
    accuracy = metrics.get("test_acc")
    if zh:
        epochs = metrics.get("epochs_completed")
        trained = f"；训练 {epochs} 个迭代周期" if isinstance(epochs, int) else ""
        trained += f"后测试精度 **{accuracy:.3f}**" if isinstance(accuracy, (int, float)) else ""
        shape = "x".join(str(size) for size in analysis.input_shape)
        name = html.escape(Path(checkpoint.path).name)
        notes = "".join(f"<br>{html.escape(note)}" for note in checkpoint.notes_zh or checkpoint.notes)
        return (f"**网络：** {spec.family_label}，{analysis.total_params:,} 个参数，输入 {shape}，在 **{info.label}** 上"
                f"训练（{len(checkpoint.classes)} 个类别）{trained}。<small>`{name}`</small>{notes}")
    trained = (f"; test accuracy **{accuracy:.3f}**" if isinstance(accuracy, (int, float)) else "")
    epochs = metrics.get("epochs_completed")
    trained += f" after {epochs} epoch{'s' if epochs != 1 else ''}" if isinstance(epochs, int) else ""
    shape = "x".join(str(size) for size in analysis.input_shape)
    name = html.escape(Path(checkpoint.path).name)
    notes = "".join(f"<br>{html.escape(note)}" for note in checkpoint.notes)
    return (f"**Network:** {spec.family_label}, {analysis.total_params:,} parameters, input {shape}, trained on "
            f"**{info.label}** ({len(checkpoint.classes)} classes){trained}. <small>`{name}`</small>{notes}")


def choose_gallery(checkpoint: LoadedCheckpoint, *, count: int = GALLERY_SIZE) -> list[GalleryItem]:
    """Test images of the run's dataset, misclassified ones first, then one correct image per class in turn.

    Returns [] when the dataset is not on disk (torchvision datasets are never downloaded for this).
    """
    macs = max(checkpoint.analysis.total_macs, 1)
    candidates = int(max(count, min(GALLERY_CANDIDATES, MAC_BUDGET // macs)))
    try:
        data = load_dataset(checkpoint.dataset, train=False, download=False, limit=candidates, seed=0)
    except (DatasetUnavailable, OSError, RuntimeError):
        return []
    images, labels = data.images[:candidates], data.labels[:candidates]
    predictions, confidences = [], []
    with torch.no_grad():
        for start in range(0, len(images), 32):
            batch = checkpoint.preprocessing.to_tensor(images[start:start + 32])
            probabilities = main_logits(checkpoint.model(batch)).float().softmax(dim=1)
            confidence, predicted = probabilities.max(dim=1)
            predictions += predicted.tolist()
            confidences += confidence.tolist()
    wrong = [index for index in range(len(images)) if predictions[index] != int(labels[index])]
    chosen = wrong[:count // 2]
    by_class: dict[int, list[int]] = {}  # correct ones, per class
    for index in range(len(images)):
        if predictions[index] == int(labels[index]):
            by_class.setdefault(int(labels[index]), []).append(index)
    while len(chosen) < count and any(by_class.values()):
        for label in sorted(by_class):
            if by_class[label] and len(chosen) < count:
                chosen.append(by_class[label].pop(0))
    chosen += [index for index in wrong if index not in chosen][:count - len(chosen)]
    items = []
    for index in chosen:
        pixels = images[index].numpy()
        pixels = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
        items.append(GalleryItem(np.ascontiguousarray(pixels), int(labels[index]), int(predictions[index]),
                                 float(confidences[index])))
    return items


def gallery_value(items: list[GalleryItem], classes: tuple[str, ...]) -> list[tuple[Image.Image, str]]:
    """(picture, caption) pairs for gr.Gallery: enlarged so each pixel stays sharp."""
    value = []
    for item in items:
        image = Image.fromarray(item.pixels)
        factor = max(1, 96 // max(image.width, 1))
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
        mark = "✓" if item.predicted == item.label else "✗"
        caption = (f"{mark} {classes[item.label]}" if item.predicted == item.label
                   else f"{mark} {classes[item.label]} → {classes[item.predicted]}")
        value.append((image, caption))
    return value


def network_view(path: str | None, *, previous_block: str | None = None, zh: bool = False) -> dict[str, Any]:
    """A network was chosen: describe it, fill the gallery and the dropdowns, and inspect its first test image.
    ``zh``: the text in Chinese."""
    checkpoint = get_network(path)
    items = choose_gallery(checkpoint)
    analysis = checkpoint.analysis
    blocks = list(gradcam_blocks(analysis))
    default = default_gradcam_block(analysis)
    features = [block.name for block in analysis.feature_blocks]
    feature_value = previous_block if previous_block in features else (default or (features[0] if features else None))
    classes = [("预测的类别" if zh else "predicted class", PREDICTED)] + [
        (name, index) for index, name in enumerate(checkpoint.classes)]
    label = dataset_info(checkpoint.dataset).label
    if zh:
        message = ("选一张测试图像、手绘或上传一张图像。" if items else
                   f"{label} 不在这台服务器上：请手绘一张图像或上传一张。")
    else:
        note = "" if items else f" {label} is not on this server: draw an image or upload one."
        message = f"Pick a test image, draw, or upload an image.{note}" if items else note.strip()
    outputs: dict[str, Any] = {
        "network": path,
        "network_md": describe_network(checkpoint, zh=zh),
        "message": message,
        "gallery": gallery_value(items, checkpoint.classes),
        "gallery_items": items,
        "cam_class": gr.Dropdown(choices=classes, value=PREDICTED),
        "cam_block": gr.Dropdown(choices=blocks, value=default),
        "feature_block": gr.Dropdown(choices=features, value=feature_value),
    }
    if items:
        outputs.update(inspect_view(path, items[0].pixels, PREDICTED, default, feature_value, zh=zh))
    return outputs


def inspect_view(path: str | None, image: Any, cam_class: Any, cam_block: str | None,
                 feature_block: str | None, *, zh: bool = False) -> dict[str, Any]:
    """Inspect ``image`` (PIL, array or file path) with the network at ``path``; every picture at once."""
    checkpoint = get_network(path)
    if image is None:
        raise ImageError("no image yet: pick a test image, draw one or upload one")
    target = None if cam_class in (None, PREDICTED, "") else int(cam_class)
    if target is not None and not 0 <= target < len(checkpoint.classes):
        target = None
    blocks = gradcam_blocks(checkpoint.analysis)
    block = cam_block if cam_block in blocks else None
    result = inspect_image(checkpoint, image, block=block, target_class=target)
    kept = image if isinstance(image, np.ndarray) else np.asarray(result.prepared.pixels)
    outputs = {"image": kept, "result": result, "seen": result.prepared.display(),
               "top": {score.name: score.probability for score in result.top},
               "gradcam": result.gradcam.overlay if result.gradcam is not None else None,
               "filters": result.filters.grid if result.filters is not None else None,
               "details": details_markdown(result, zh=zh), "message": prediction_message(result, zh=zh)}
    outputs.update(feature_view(result, feature_block, zh=zh))
    return outputs


def feature_view(result: Inspection | None, block: str | None, *, zh: bool = False) -> dict[str, Any]:
    """The feature maps of ``block`` from the last inspection (no new pass through the network)."""
    if result is None or not result.features:
        return {}
    names = [maps.name for maps in result.features]
    maps = result.features[names.index(block)] if block in names else result.features[-1]
    channels = ", ".join(str(channel.index) for channel in maps.top)
    shape = " x ".join(str(size) for size in maps.shape)
    if zh:
        text = (f"**{html.escape(maps.name)}**（{html.escape(maps.label.replace(' -> ', ' → '))}）：输出 {shape}；显示 "
                f"{maps.channels} 个通道中最活跃的 {len(maps.top)} 个（按平均激活值）：{channels}。"
                f"每个网格使用一个颜色刻度：深色 = 低，黄色 = 高。")
        if maps.branches:
            text += ("下方：各分支自己的输出并排显示，使用同一个颜色刻度"
                     f"（{'，'.join(html.escape(branch.label.replace(' -> ', ' → ')) for branch in maps.branches)}）。")
        return {"features": maps.grid, "features_md": text,
                "branches": gr.Image(value=maps.branches_grid, visible=maps.branches_grid is not None)}
    text = (f"**{html.escape(maps.name)}** ({html.escape(maps.label.replace(' -> ', ' → '))}): output {shape}; showing the "
            f"{len(maps.top)} most active of {maps.channels} channels (by mean activation): {channels}. "
            f"One colour scale per grid: dark = low, yellow = high.")
    if maps.branches:
        text += (" Below: each branch's own output, side by side, on one colour scale "
                 f"({', '.join(html.escape(branch.label.replace(' -> ', ' → ')) for branch in maps.branches)}).")
    return {"features": maps.grid, "features_md": text,
            "branches": gr.Image(value=maps.branches_grid, visible=maps.branches_grid is not None)}


def prediction_message(result: Inspection, *, zh: bool = False) -> str:
    best = result.predicted
    cam = result.gradcam
    if zh:
        where = (f"Grad-CAM 显示了 **{html.escape(cam.class_name)}** 的证据在 {html.escape(cam.block)} 的位置。"
                 if cam is not None else "")
        return f"预测为 **{html.escape(best.name)}**（{best.probability:.1%}）。{where}"
    where = (f" Grad-CAM shows the evidence for **{html.escape(cam.class_name)}** at {html.escape(cam.block)}."
             if cam is not None else "")
    return f"Predicted **{html.escape(best.name)}** ({best.probability:.1%}).{where}"


#: The inspection's steps (:attr:`Inspection.timings`) as the Chinese page names them.
STEP_NAMES_ZH = {"prepare": "预处理", "forward": "前向传播", "gradcam": "Grad-CAM", "render": "绘图", "total": "总计"}


def details_markdown(result: Inspection, *, zh: bool = False) -> str:
    notes = list(result.prepared.notes if result.prepared is not None else ()) + list(result.notes)
    timings = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in result.timings.items())
    if zh:
        timings_zh = "，".join(f"{STEP_NAMES_ZH.get(name, name)} {seconds * 1000:.0f} ms"
                               for name, seconds in result.timings.items())
        lines = [f"用时：{timings_zh}。"]
        notes_zh = list(result.prepared.notes_zh if result.prepared is not None else ()) + list(result.notes_zh)
        if notes_zh or notes:  # an inspection from elsewhere, without Chinese notes, keeps its English ones
            lines.append("对图像做了这些处理：" + "；".join(html.escape(note) for note in notes_zh or notes) + "。")
        return "\n\n".join(lines)
    lines = [f"Time: {timings}."]
    if notes:
        lines.append("What was done to the image: " + "; ".join(html.escape(note) for note in notes) + ".")
    return "\n\n".join(lines)


def drawing_image(value: Any) -> Image.Image:
    """The Sketchpad's picture; ImageError when nothing was drawn."""
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        raise ImageError("nothing drawn yet: draw a shape (or a digit) on the canvas first")
    image = composite if isinstance(composite, Image.Image) else Image.fromarray(np.asarray(composite))
    low, high = image.convert("L").getextrema()
    if high - low < 8:
        raise ImageError("the canvas is blank: draw a shape (or a digit) on the canvas first")
    return image


def guarded(view: Callable[..., dict[str, Any]], *args: Any, zh: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Run a view; a bad file, image or setting changes only the message (the previous pictures stay).
    ``zh`` is passed on to the view, and words the message in Chinese."""
    try:
        return view(*args, **kwargs, **({"zh": True} if zh else {}))
    except SpecError as exc:  # CheckpointError, ImageError and bad options alike
        return {"message": error_message(exc, zh=zh), "error": str(exc.message if hasattr(exc, "message") else exc)}


def error_message(exc: Exception, *, zh: bool = False) -> str:
    text = getattr(exc, "message", None) or str(exc)
    field = getattr(exc, "field", "")
    if zh:
        what = {"checkpoint": "无法使用这个检查点", "image": "无法使用这张图像"}.get(field, "无法分析")
        text_zh = getattr(exc, "message_zh", "") or ERRORS_ZH.get(str(text), str(text))
        return f"<div class='spec-error'>⚠️ {what}：{html.escape(text_zh)}</div>"
    what = {"checkpoint": "Could not use this checkpoint", "image": "Could not use this image"}.get(
        field, "Could not inspect")
    return f"<div class='spec-error'>⚠️ {what}: {html.escape(str(text))}</div>"


# -- the tab -------------------------------------------------------------------------------------------------------


@dataclass
class InspectPanel:
    components: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.components[name]


def build_inspect_panel(train_checkpoint: gr.File | None = None) -> InspectPanel:
    """Build the Inspect tab's contents inside the caller's Blocks; ``train_checkpoint`` is the Train tab's file."""
    gr.Markdown(tr(INTRO))
    c: dict[str, Any] = {}
    c["network"] = gr.State(None)  # the checkpoint's path (the model stays in CACHE)
    c["gallery_items"] = gr.State([])
    c["image"] = gr.State(None)  # the last input, as pixels
    c["result"] = gr.State(None)  # the last Inspection (its pictures; no model)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            c["network_md"] = gr.Markdown(tr(NO_NETWORK, zh=NO_NETWORK_ZH), elem_id="inspect-network")
        with gr.Column(scale=2, min_width=240):
            use_train = gr.Button(tr("Inspect the last training run"), size="sm", elem_id="inspect-use-train")
            upload = gr.File(label=tr("Or upload a checkpoint (.pt) this app wrote"), file_types=[".pt"],
                             type="filepath", height=120, elem_id="inspect-upload")  # 90 cut "Click to Upload"
    c["message"] = gr.Markdown(elem_id="inspect-message")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            with gr.Tabs():
                with gr.Tab(tr("Test images"), id="inspect-tests"):
                    c["gallery"] = gr.Gallery(label=tr("Test images (misclassified first; click one)"),
                                              columns=4, height=320, allow_preview=False, object_fit="contain",
                                              elem_id="inspect-gallery", interactive=False)
                with gr.Tab(tr("Draw"), id="inspect-draw"):
                    sketch = gr.Sketchpad(label=tr("Draw a shape or a digit"), type="pil", image_mode="RGB",
                                          canvas_size=(280, 280), height=420, layers=False, transforms=(),
                                          brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"),
                                          elem_id="inspect-sketch")
                    gr.Markdown(tr("Pick the brush on the left of the canvas, draw, then press the button."),
                                elem_classes=["preset-note"])
                    draw_button = gr.Button(tr("Inspect the drawing"), variant="primary", elem_id="inspect-draw-go")
                with gr.Tab(tr("Upload"), id="inspect-upload-image"):
                    image_upload = gr.File(label=tr("An image (PNG, JPEG, ...)"), type="filepath",
                                           file_types=["image"], height=120, elem_id="inspect-image-upload")
            with gr.Row():
                c["cam_class"] = gr.Dropdown(choices=[(tr("predicted class", zh="预测的类别"), PREDICTED)],
                                             value=PREDICTED,
                                             label=tr("Grad-CAM class"), elem_id="inspect-cam-class")
                c["cam_block"] = gr.Dropdown(choices=[], label=tr("Grad-CAM block"), elem_id="inspect-cam-block")
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                c["seen"] = gr.Image(label=tr("What the network sees"), type="pil", format="png", height=220,
                                     interactive=False, elem_id="inspect-seen")
                c["gradcam"] = gr.Image(label=tr("Grad-CAM"), type="pil", format="png", height=220,
                                        interactive=False, elem_id="inspect-gradcam")
            c["top"] = gr.Label(label=tr("Top-5 classes"), num_top_classes=5, elem_id="inspect-top")
    c["feature_block"] = gr.Dropdown(choices=[], label=tr("Block"), elem_id="inspect-feature-block")
    c["features_md"] = gr.Markdown(elem_id="inspect-features-text")
    c["features"] = gr.Image(label=tr("Feature maps"), type="pil", format="png", interactive=False,
                             elem_id="inspect-features")
    c["branches"] = gr.Image(label=tr("Inception branches"), type="pil", format="png", interactive=False,
                             visible=False, elem_id="inspect-branches")
    c["filters"] = gr.Image(label=tr("First layer's filters"), type="pil", format="png", interactive=False,
                            elem_id="inspect-filters")
    c["details"] = gr.Markdown(elem_id="inspect-details")
    c.update(upload=upload, use_train=use_train, sketch=sketch, draw_button=draw_button, image_upload=image_upload)
    outputs = [c[name] for name in OUTPUTS]

    def apply(view: Callable[..., dict[str, Any]], request: gr.Request | None, *args: Any) -> dict[Any, Any]:
        """Run a view in the browser's language; a refusal shows as a warning and in the message."""
        result = guarded(view, *args, zh=chinese(request))
        if "error" in result:
            gr.Warning(result.pop("error"))
        return {c[name]: value for name, value in result.items() if name in c}

    def on_upload(path: str | None, block: Any, request: gr.Request = None) -> dict[Any, Any]:
        return apply(lambda *args, **kw: network_view(args[0], previous_block=args[1], **kw), request, path, block)

    def on_train_file(path: Any, block: Any, request: gr.Request = None) -> dict[Any, Any]:
        return apply(lambda *args, **kw: network_view(_train_path(args[0]), previous_block=args[1], **kw), request,
                     path, block)

    def on_image(path: str | None, image: Any, cam_class: Any, cam_block: Any, block: Any,
                 request: gr.Request = None) -> dict[Any, Any]:
        return apply(inspect_view, request, path, image, cam_class, cam_block, block)

    def on_drawing(path: str | None, drawing: Any, cam_class: Any, cam_block: Any, block: Any,
                   request: gr.Request = None) -> dict[Any, Any]:
        return apply(lambda *args, **kw: inspect_view(args[0], drawing_image(args[1]), *args[2:], **kw), request,
                     path, drawing, cam_class, cam_block, block)

    def on_feature_block(result: Inspection | None, block: Any, request: gr.Request = None) -> dict[Any, Any]:
        return apply(feature_view, request, result, block)

    # Inspecting runs the network on the CPU: a few at a time, apart from the training queue.
    run: dict[str, Any] = dict(concurrency_limit=2, concurrency_id="inspect", api_visibility="private",
                               show_progress="minimal")
    settings = [c["cam_class"], c["cam_block"], c["feature_block"]]
    upload.upload(on_upload, [upload, c["feature_block"]], outputs, **run)
    if train_checkpoint is not None:
        use_train.click(on_train_file, [train_checkpoint, c["feature_block"]], outputs, **run)
    else:
        use_train.visible = False

    def pick(path: str | None, items: list[GalleryItem], cam_class: Any, cam_block: Any, block: Any,
             event: gr.SelectData, request: gr.Request = None) -> dict[Any, Any]:
        index = event.index if isinstance(event.index, int) else None
        if index is None or not 0 <= index < len(items or []):
            return {}
        return on_image(path, items[index].pixels, cam_class, cam_block, block, request)

    c["gallery"].select(pick, [c["network"], c["gallery_items"], *settings], outputs, **run)
    draw_button.click(on_drawing, [c["network"], sketch, *settings], outputs, **run)
    image_upload.upload(on_image, [c["network"], image_upload, *settings], outputs, **run)
    c["cam_class"].input(on_image, [c["network"], c["image"], *settings], outputs, **run)
    c["cam_block"].input(on_image, [c["network"], c["image"], *settings], outputs, **run)
    c["feature_block"].input(on_feature_block, [c["result"], c["feature_block"]], outputs,
                             concurrency_limit=None, api_visibility="private", show_progress="hidden")
    return InspectPanel(c)


def _train_path(value: Any) -> str | None:
    """The Train tab's checkpoint file (a path, or Gradio's file data)."""
    if not value:
        raise SpecError("checkpoint", "no finished run with a checkpoint in this session yet: train a network in "
                                      "the Train tab first (or upload a checkpoint)")
    return value if isinstance(value, str) else getattr(value, "path", None) or value.get("path")
