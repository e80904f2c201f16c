"""Benchmark: one inspection of a trained network (probabilities, every block's feature maps, filters, Grad-CAM,
all grids rendered to PIL images), server-side, on the CPU.

The network is d2l's small VGG-11 (``d2l_vgg11_small``: widths / 4, 1x224x224, 10 classes), He-initialised and
saved by the engine's ``save_checkpoint`` as a Fashion-MNIST run would be, then loaded with
:func:`explorer.inspection.load_checkpoint`. Timing does not depend on what the weights learned. The image is a
28x28 PNG (bytes, as an upload), prepared like the dataset's test images and enlarged to 224.

Run from the repository root::

    .venv/bin/python benchmarks/inspection_speed.py [--repeats 30]
    .venv/bin/python -m benchmarks.inspect

Prints the median wall time of ``inspect_image`` over the runs and its split (prepare, forward, Grad-CAM,
rendering), the median CPU time, and the machine. Goal: <= 500 ms median.
"""
from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path and this file would shadow the standard ``inspect``
# module that torch imports: put the repository root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _HERE:
    sys.path[0] = os.path.dirname(_HERE)

import argparse  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from explorer import build_model, load_preset  # noqa: E402
from explorer.inspection import inspect_image, load_checkpoint  # noqa: E402
from explorer.training.config import TrainConfig  # noqa: E402
from explorer.training.data import FASHION_CLASSES  # noqa: E402
from explorer.training.engine import init_weights, save_checkpoint  # noqa: E402
from explorer.training.shapes import generate_shapes  # noqa: E402

PRESET = "d2l_vgg11_small"
GOAL_MS = 500.0


def make_checkpoint(folder: str) -> str:
    """A checkpoint in the engine's format, for the preset with He-initialised weights."""
    spec = load_preset(PRESET)
    torch.manual_seed(0)
    model = build_model(spec)
    init_weights(model, "kaiming")
    config = TrainConfig(dataset="fashion-mnist", checkpoint_dir=folder)
    normalization = SimpleNamespace(mean=torch.tensor([0.286]), std=torch.tensor([0.353]))
    return str(save_checkpoint(model, spec, config, {"test_acc": None}, list(FASHION_CLASSES), normalization))


def test_image() -> bytes:
    images, _ = generate_shapes(1, seed=2)
    buffer = io.BytesIO()
    Image.fromarray(images[0, 0].numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed inspections")
    parser.add_argument("--warmup", type=int, default=3, help="untimed inspections first")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = make_checkpoint(folder)
        start = time.perf_counter()
        checkpoint = load_checkpoint(path)
        load_ms = (time.perf_counter() - start) * 1000
    image = test_image()
    for _ in range(args.warmup):
        inspect_image(checkpoint, image)
    splits: dict[str, list[float]] = {}
    cpu = []
    for _ in range(args.repeats):
        start_cpu = time.process_time()
        result = inspect_image(checkpoint, image)
        cpu.append((time.process_time() - start_cpu) * 1000)
        for key, seconds in result.timings.items():
            splits.setdefault(key, []).append(seconds * 1000)
    median = {key: statistics.median(values) for key, values in splits.items()}

    print(f"{PRESET} at {checkpoint.spec.input_size}px ({checkpoint.analysis.total_macs / 1e9:.2f} GMACs), "
          f"{len(result.features)} blocks x {len(result.features[0].top)} channels, Grad-CAM at "
          f"{result.gradcam.block}; checkpoint loaded in {load_ms:.0f} ms")
    print(f"| step | median ms ({args.repeats} runs) |")
    print("|---|---:|")
    for key in ("prepare", "forward", "gradcam", "render", "total"):
        print(f"| {key} | {median[key]:.1f} |")
    print(f"| total, CPU time of this process | {statistics.median(cpu):.1f} |")
    print()
    print(f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, Python {platform.python_version()}"
          + (f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""))
    met = median["total"] <= GOAL_MS
    print(f"Goal (median total <= {GOAL_MS:g} ms): {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
