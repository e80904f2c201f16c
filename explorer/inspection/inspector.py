"""One image through a trained network: class probabilities, every block's feature maps, the first layer's
filters and a Grad-CAM map, in one forward pass and one partial backward pass."""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..analysis import analyze
from ..models import main_logits
from ..specs import ArchSpec, SpecError
from . import gradcam as gradcam_module
from . import render
from .checkpoints import LoadedCheckpoint
from .features import FeatureMaps, Recorder, build_feature_maps
from .filters import Filters, conv_filters
from .gradcam import GradCAM
from .images import ImageInput, PreparedImage, prepare_image

#: Most active channels shown per block (and half as many per Inception branch).
TOP_CHANNELS = 16
MAX_TOP_CHANNELS = 256
TOP_CLASSES = 5


@dataclass(frozen=True)
class ClassScore:
    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class Inspection:
    """Everything the Inspect view shows for one image."""

    probabilities: np.ndarray  # num_classes float32, softmax of the logits
    logits: np.ndarray  # num_classes float32
    top: tuple[ClassScore, ...]  # the 5 most probable classes, most probable first
    features: tuple[FeatureMaps, ...]  # every feature block, in order (pools included)
    filters: Filters | None  # the first convolution's filters
    gradcam: GradCAM | None  # None when asked not to compute it or no block has a map
    gradcam_blocks: tuple[str, ...]  # the blocks Grad-CAM can be asked for
    input_image: Image.Image | None  # what the network sees (before normalisation), at its input size
    prepared: PreparedImage | None = None  # set by inspect_image
    timings: dict[str, float] = field(default_factory=dict)  # seconds: prepare, forward, gradcam, render, total
    notes: tuple[str, ...] = ()
    notes_zh: tuple[str, ...] = ()  # the same notes in Simplified Chinese

    @property
    def predicted(self) -> ClassScore:
        return self.top[0]

    def feature(self, name: str) -> FeatureMaps:
        """The feature maps of block ``name`` (or ``"<block>.<branch>"``); KeyError if there are none."""
        for maps in self.features:
            if maps.name == name:
                return maps
            for branch in maps.branches:
                if branch.name == name:
                    return branch
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: probabilities, top classes, Grad-CAM, block shapes and top channels, timings, notes."""
        return {
            "predicted": vars(self.predicted).copy(),
            "top": [vars(score).copy() for score in self.top],
            "probabilities": [round(float(value), 6) for value in self.probabilities],
            "logits": [round(float(value), 6) for value in self.logits],
            "gradcam": self.gradcam.to_dict() if self.gradcam is not None else None,
            "gradcam_blocks": list(self.gradcam_blocks),
            "features": [maps.to_dict() for maps in self.features],
            "filters": self.filters.to_dict() if self.filters is not None else None,
            "input": ({"inverted": self.prepared.inverted, "notes": list(self.prepared.notes)}
                      if self.prepared is not None else None),
            "timings_ms": {key: round(value * 1000, 2) for key, value in self.timings.items()},
            "notes": list(self.notes),
        }


def inspect_image(checkpoint: LoadedCheckpoint, image: ImageInput, *, block: str | None = None,
                  target_class: int | None = None, top_channels: int = TOP_CHANNELS, fit: str = "pad",
                  invert: bool | None = None, gradcam: bool = True, render_images: bool = True) -> Inspection:
    """Prepare ``image`` as the checkpoint's test images were (:func:`prepare_image`) and inspect it.

    Args:
        checkpoint: from :func:`~explorer.inspection.load_checkpoint`.
        image: a PIL image, an array, encoded bytes or a file path.
        block: Grad-CAM's block (default: the last feature block with a map of at least 4x4).
        target_class: Grad-CAM's class index (default: the predicted class).
        top_channels: most active channels shown per block (half as many per Inception branch).
        fit, invert: see :func:`prepare_image`.
        gradcam: compute the Grad-CAM map.
        render_images: draw the PNG-able grids and overlay (the arrays are there either way).

    Raises:
        ImageError: for an unreadable or oversized image. SpecError: for a bad block, class or option.
    """
    start = time.perf_counter()
    prepared = prepare_image(image, checkpoint.preprocessing, fit=fit, invert=invert)
    prepare_seconds = time.perf_counter() - start
    result = inspect_tensor(checkpoint.model, checkpoint.spec, prepared.tensor, classes=checkpoint.classes,
                            block=block, target_class=target_class, top_channels=top_channels,
                            seen=np.asarray(prepared.seen), gradcam=gradcam, render_images=render_images)
    timings = {"prepare": prepare_seconds, **result.timings}
    timings["total"] = time.perf_counter() - start
    return Inspection(**{**vars(result), "prepared": prepared, "timings": timings,
                         "notes": tuple(checkpoint.notes) + result.notes,
                         "notes_zh": tuple(checkpoint.notes_zh) + result.notes_zh})


def inspect_tensor(model: nn.Module, spec: ArchSpec, tensor: torch.Tensor, *, classes: Sequence[str] | None = None,
                   block: str | None = None, target_class: int | None = None, top_channels: int = TOP_CHANNELS,
                   seen: np.ndarray | None = None, gradcam: bool = True, render_images: bool = True) -> Inspection:
    """Inspect a prepared ``1 x C x H x W`` input with any model built from ``spec`` (run in eval mode).

    ``seen`` is the uint8 picture the overlay is drawn on (default: the input rescaled to 0..255).
    """
    start = time.perf_counter()
    analysis = analyze(spec)
    if tensor.dim() != 4 or tensor.shape[0] != 1 or tuple(tensor.shape[1:]) != analysis.input_shape:
        raise SpecError("image", f"expected a 1 x {' x '.join(map(str, analysis.input_shape))} input, got "
                                 f"{' x '.join(map(str, tensor.shape))}")
    if isinstance(top_channels, bool) or not isinstance(top_channels, int) \
            or not 1 <= top_channels <= MAX_TOP_CHANNELS:
        raise SpecError("top_channels", f"must be an integer from 1 to {MAX_TOP_CHANNELS}, got {top_channels!r}")
    num_classes = spec.num_classes
    names = tuple(classes) if classes is not None else tuple(str(index) for index in range(num_classes))
    if len(names) != num_classes:
        raise SpecError("classes", f"expected {num_classes} class names, got {len(names)}")
    if target_class is not None and (isinstance(target_class, bool) or not isinstance(target_class, int)
                                     or not 0 <= target_class < num_classes):
        raise SpecError("target_class", f"must be a class index from 0 to {num_classes - 1}, got {target_class!r}")
    cam_block = gradcam_module.check_block(analysis, block) if gradcam else None

    capture = gradcam_module.Capture()
    extra = {cam_block: capture.hook()} if cam_block is not None else {}
    recorder = Recorder(model, analysis, top_channels=top_channels, branch_channels=max(1, top_channels // 2),
                        extra=extra)
    lock = _model_lock(model)
    lock.acquire()
    was_training = model.training
    frozen = [parameter for parameter in model.parameters() if parameter.requires_grad]
    model.eval()
    for parameter in frozen:  # no graph before the Grad-CAM block (the hook starts one there)
        parameter.requires_grad_(False)
    try:
        with recorder, torch.set_grad_enabled(cam_block is not None):
            logits = main_logits(model(tensor.float()))
        forward_seconds = time.perf_counter() - start
        cam = None
        notes: list[str] = []
        notes_zh: list[str] = []
        chosen = target_class
        if logits.dim() != 2 or logits.shape[0] != 1:
            raise RuntimeError(f"the model returned logits of shape {tuple(logits.shape)}")
        if chosen is None:
            chosen = int(logits[0].argmax())
        gradcam_start = time.perf_counter()
        if cam_block is not None and capture.activation is not None:
            weights, heatmap, upsampled, peak = gradcam_module.compute(
                capture.activation, logits[0, chosen], (int(tensor.shape[-2]), int(tensor.shape[-1])))
            if peak <= 0:
                notes.append(f"Grad-CAM is zero everywhere at {cam_block}: no part of it raises the score of "
                             f"{names[chosen]}")
                notes_zh.append(f"Grad-CAM 在 `{cam_block}` 处处为零：它没有任何部分提高 `{names[chosen]}` 的得分")
            cam = GradCAM(block=cam_block, class_index=chosen, class_name=names[chosen],
                          score=float(logits[0, chosen].detach()), weights=weights, heatmap=heatmap, upsampled=upsampled,
                          peak=peak)
        gradcam_seconds = time.perf_counter() - gradcam_start
    finally:
        for parameter in frozen:
            parameter.requires_grad_(True)
        model.train(was_training)
        lock.release()

    render_start = time.perf_counter()
    with torch.no_grad():
        values = logits.detach().float()[0]
        probabilities = values.softmax(dim=0).numpy().astype(np.float32)
    order = np.argsort(-probabilities, kind="stable")[:TOP_CLASSES]
    top = tuple(ClassScore(int(index), names[int(index)], float(probabilities[index])) for index in order)
    features = build_feature_maps(analysis, recorder.captured, render_grids=render_images)
    filters = conv_filters(model, render_grid=render_images)
    base = seen if seen is not None else _rescaled(tensor)
    input_image = render.to_image(base) if render_images else None
    if cam is not None and render_images:
        cam = GradCAM(**{**vars(cam), "overlay": _overlay(base, cam)})
    render_seconds = time.perf_counter() - render_start
    timings = {"forward": forward_seconds, "gradcam": gradcam_seconds, "render": render_seconds,
               "total": time.perf_counter() - start}
    return Inspection(probabilities=probabilities, logits=values.numpy().astype(np.float32), top=top,
                      features=features, filters=filters, gradcam=cam,
                      gradcam_blocks=gradcam_module.gradcam_blocks(analysis), input_image=input_image,
                      timings=timings, notes=tuple(notes), notes_zh=tuple(notes_zh))


_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.Lock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _model_lock(model: nn.Module) -> threading.Lock:
    """One lock per model: the hooks of two inspections of one shared model must not see each other's passes."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.Lock()
        return lock


def _rescaled(tensor: torch.Tensor) -> np.ndarray:
    """An input tensor as a uint8 picture (min-max per image); H x W or H x W x 3."""
    values = tensor.detach().float()[0]
    values = (values - values.min()) / (values.max() - values.min()).clamp(min=1e-12)
    pixels = (values * 255.0).round().to(torch.uint8).numpy()
    if pixels.shape[0] == 3:
        return np.ascontiguousarray(pixels.transpose(1, 2, 0))
    return pixels.mean(axis=0).round().astype(np.uint8) if pixels.shape[0] != 1 else pixels[0]


def _overlay(base: np.ndarray, cam: GradCAM) -> Image.Image:
    """The map over the input, enlarged to about DISPLAY_PIXELS (the input's pixels stay square)."""
    height, width = base.shape[:2]
    factor = render.zoom_factor(height, width, render.DISPLAY_PIXELS)
    heat = torch.from_numpy(cam.heatmap)[None, None]
    heat = F.interpolate(heat, size=(height * factor, width * factor), mode="bilinear", align_corners=False)[0, 0]
    return render.overlay(render.enlarge(base, factor), heat.clamp(0.0, 1.0).numpy())
