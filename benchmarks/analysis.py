"""Benchmark: :func:`explorer.analyze` (meta device) against the naive path (real weights + a real forward).

The naive path is what a tutorial does to print a summary: build the model with initialised weights on the CPU,
then run ``torchinfo.summary`` with a real forward pass at 1x3x224x224. ``analyze`` builds the same model on the
``meta`` device (no weight memory, no initialisation, no arithmetic) and asks torchinfo for the same counts.

Run from the repository root::

    .venv/bin/python benchmarks/analysis.py            # 15 repeats for ours, 3 for the naive path
    .venv/bin/python benchmarks/analysis.py --repeats 30 --naive-repeats 5

Prints a Markdown table (median wall times and the ratio) and the machine it ran on. The analysis cache is
cleared before every timed call, so each one does the full work. Goal: VGG-16 <= 15 ms and >= 50x faster.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torchinfo import summary  # noqa: E402

from explorer import analyze, build_model, load_preset  # noqa: E402
from explorer.analysis import clear_cache  # noqa: E402

MODELS = ("vgg16", "googlenet")
GOAL_MS = 15.0  # VGG-16's median
GOAL_RATIO = 50.0


def median_ms(function: Callable[[], object], repeats: int, *,
              before: Callable[[], None] | None = None) -> tuple[float, float]:
    """Median wall time and median CPU time of this process for ``function()``, in milliseconds.

    ``before()`` runs untimed before each call. CPU time is less sensitive to other processes on a busy machine.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def ours(name: str) -> Callable[[], object]:
    spec = load_preset(name)
    return lambda: analyze(spec)


def naive(name: str) -> Callable[[], object]:
    spec = load_preset(name)
    input_size = (1, spec.in_channels, spec.input_size, spec.input_size)

    def run() -> object:
        model = build_model(spec)  # real, initialised weights on the CPU
        return summary(model, input_size=input_size, device="cpu", mode="eval", verbose=0,
                       col_names=("output_size", "num_params", "mult_adds"))

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls of explorer.analyze per model")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed calls of the naive path per model")
    args = parser.parse_args(argv)

    rows = []
    for name in MODELS:
        # Both paths must agree before their times mean anything.
        clear_cache()
        analysis = analyze(load_preset(name))
        naive_stats = naive(name)()
        if (analysis.total_params, analysis.total_macs) != (naive_stats.total_params, naive_stats.total_mult_adds):
            raise SystemExit(f"{name}: analyze() and the naive summary disagree: "
                             f"{analysis.total_params:,}/{analysis.total_macs:,} vs "
                             f"{naive_stats.total_params:,}/{naive_stats.total_mult_adds:,}")
        ours_ms, ours_cpu_ms = median_ms(ours(name), args.repeats, before=clear_cache)
        naive_ms, _ = median_ms(naive(name), args.naive_repeats)
        rows.append((name, ours_ms, naive_ms, ours_cpu_ms))

    print(f"| model | ours median ms ({args.repeats} runs) | naive median ms ({args.naive_repeats} runs) | ratio "
          "| ours median CPU ms |")
    print("|---|---:|---:|---:|---:|")
    for name, ours_ms, naive_ms, ours_cpu_ms in rows:
        print(f"| {name} | {ours_ms:.1f} | {naive_ms:.1f} | {naive_ms / ours_ms:.0f}x | {ours_cpu_ms:.1f} |")
    print()
    print(f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, Python {platform.python_version()}"
          + (f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""))

    vgg_ours, vgg_naive = next((ours_ms, naive_ms) for name, ours_ms, naive_ms, _ in rows if name == "vgg16")
    met = vgg_ours <= GOAL_MS and vgg_naive / vgg_ours >= GOAL_RATIO
    print(f"Goal (VGG-16 <= {GOAL_MS:g} ms and >= {GOAL_RATIO:g}x faster): {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
