"""Benchmark: :func:`explorer.analyze` against the torchinfo-based analysis it replaced and the naive path.

Three ways to the same numbers, for VGG-16, GoogLeNet and d2l's GoogLeNet at their preset sizes:

* ``analyze()``: the meta model (built without running the initialisers), one forward pass under one global hook,
  shape-only forwards for conv/pool/BN/linear, parameters and multiply-adds by torchinfo's definitions.
* the old path, kept here as :func:`analyze_with_torchinfo`: the meta model built with its initialisers, then
  ``torchinfo.summary`` (a forward pre-hook and a hook on every module, its own counting) with the receptive-field
  hook alongside. Its result must equal ``analyze()``'s, record for record, before anything is timed.
* the naive path: what a tutorial does to print a summary, real initialised weights on the CPU and
  ``torchinfo.summary`` with a real forward pass.

Run from the repository root::

    .venv/bin/python benchmarks/analysis.py            # 15 repeats for ours and the old path, 3 for the naive one
    .venv/bin/python benchmarks/analysis.py --repeats 30 --naive-repeats 5

Prints a Markdown table (median wall times and the ratios) and the machine it ran on. The analysis cache is
cleared before every timed call, so each one does the full work; ours and the old path alternate call by call,
so a change in the machine's load hits both. Goals: VGG-16 <= 15 ms and >= 50x faster than the naive path
(met); GoogLeNet in a few ms, as its issue asks (not met yet: building its ~290 modules alone takes ~8 ms).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchinfo import summary  # noqa: E402

from explorer import analyze, build_model, load_preset  # noqa: E402
from explorer.analysis import (FP32_BYTES, _KINDS, Analysis, LayerAnalysis, _block_lookup,  # noqa: E402
                               _first, _ForwardRecorder, _linear_shape, _measure_block, _params_under, clear_cache)
from explorer.models import GoogLeNet  # noqa: E402
from explorer.specs import ArchSpec  # noqa: E402

MODELS = ("vgg16", "googlenet", "d2l_googlenet")
GOAL_MS = 15.0  # VGG-16's median
GOAL_RATIO = 50.0  # VGG-16, naive / ours
GOAL_GOOGLENET_MS = 5.0  # GoogLeNet's median: "a few ms", so the Explore tab can re-analyse on every edit


def median_ms(functions: dict[str, Callable[[], object]], repeats: int, *,
              before: Callable[[], None] | None = None) -> dict[str, tuple[float, float]]:
    """Median wall time and median CPU time of this process for each ``function()``, in milliseconds.

    The functions take turns, one call each per round; ``before()`` runs untimed before each call. CPU time is
    less sensitive to other processes on a busy machine.
    """
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            if before is not None:
                before()
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (statistics.median(wall[name]) * 1000, statistics.median(cpu[name]) * 1000) for name in functions}


def analyze_with_torchinfo(spec: ArchSpec, batch_size: int = 1) -> Analysis:
    """The analysis as it was before its own hook: ``torchinfo.summary`` counted shapes, parameters and MACs.

    The block measurements after the forward pass are today's (a small share of the time either way).
    """
    model = build_model(spec, device="meta")  # with the initialisers, as before
    if isinstance(model, GoogLeNet):
        model.run_aux_in_eval = True
    names = {module: name for name, module in model.named_modules()}
    for module in names:
        if isinstance(module, nn.BatchNorm2d):
            module.forward = lambda x: x  # type: ignore[method-assign]
        elif isinstance(module, nn.Linear):
            module.forward = partial(_linear_shape, module)  # type: ignore[method-assign]
    tracker = _ForwardRecorder(names)
    handle = torch.nn.modules.module.register_module_forward_hook(tracker.hook)
    try:
        stats = summary(model, input_size=(1, spec.in_channels, spec.input_size, spec.input_size), device="meta",
                        mode="eval", verbose=0, col_names=("output_size", "num_params", "mult_adds"))
    finally:
        handle.remove()
    record = model.block_info
    block_of = _block_lookup(record)
    leaves = []
    for info in stats.summary_list:
        if not info.is_leaf_layer or not info.executed:
            continue
        module = info.module
        name = names.get(module, info.var_name)
        output_shape = tuple(int(size) for size in info.output_size[1:])
        rf, jump = tracker.by_module.get(module, (0, 0))
        padding = getattr(module, "padding", None)
        leaves.append(LayerAnalysis(
            name=name, kind=_KINDS.get(type(module).__name__, type(module).__name__.lower()), block=block_of(name),
            output_shape=output_shape, params=int(info.num_params), macs=int(info.macs),
            activation_bytes=math.prod(output_shape) * FP32_BYTES, receptive_field=rf, effective_stride=jump,
            kernel_size=_first(getattr(module, "kernel_size", None)), stride=_first(getattr(module, "stride", None)),
            groups=int(getattr(module, "groups", 1)), input_shape=tracker.input_shapes.get(module, ()),
            padding=None if isinstance(padding, str) else _first(padding)))
    modules_by_name = dict(model.named_modules())
    params_under = _params_under(names)
    blocks, layers = [], []
    for entry in record:
        block_layers = [layer for layer in leaves if layer.block == entry["name"]]
        block = _measure_block(entry, block_layers, modules_by_name, tracker, params_under)
        blocks.append(block)
        layers += block_layers
        if block.merge:
            layers.append(LayerAnalysis(
                name=f"{block.modules[0]}.{block.merge}", kind=block.merge, block=block.name,
                output_shape=block.output_shape, params=0, macs=0,
                activation_bytes=math.prod(block.output_shape) * FP32_BYTES, receptive_field=block.receptive_field,
                effective_stride=block.effective_stride, input_shape=block.input_shape))
    total_params = sum(parameter.numel() for parameter in model.parameters())
    features = [block for block in blocks if block.is_feature]
    return Analysis(
        family=spec.family, input_shape=(spec.in_channels, spec.input_size, spec.input_size),
        batch_size=batch_size, layers=tuple(layers), total_params=total_params,
        total_macs=int(stats.total_mult_adds), param_bytes=total_params * FP32_BYTES,
        feature_receptive_field=features[-1].receptive_field if features else 1,
        output_shape=next(block for block in reversed(blocks) if block.kind == "head").output_shape,
        blocks=tuple(blocks))


def naive(spec: ArchSpec) -> object:
    """Real, initialised weights on the CPU and a real forward pass under torchinfo."""
    model = build_model(spec)
    return summary(model, input_size=(1, spec.in_channels, spec.input_size, spec.input_size), device="cpu",
                   mode="eval", verbose=0, col_names=("output_size", "num_params", "mult_adds"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls of analyze() and of the old path")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed calls of the naive path per model")
    args = parser.parse_args(argv)

    rows = []
    for name in MODELS:
        spec = load_preset(name)
        # All three must agree before their times mean anything.
        clear_cache()
        analysis = analyze(spec)
        if analyze_with_torchinfo(spec) != analysis:
            raise SystemExit(f"{name}: analyze() and the torchinfo-based analysis disagree")
        naive_stats = naive(spec)
        if (analysis.total_params, analysis.total_macs) != (naive_stats.total_params, naive_stats.total_mult_adds):
            raise SystemExit(f"{name}: analyze() and the naive summary disagree: "
                             f"{analysis.total_params:,}/{analysis.total_macs:,} vs "
                             f"{naive_stats.total_params:,}/{naive_stats.total_mult_adds:,}")
        times = median_ms({"ours": lambda: analyze(spec), "old": lambda: analyze_with_torchinfo(spec)},
                          args.repeats, before=clear_cache)
        naive_ms, _ = median_ms({"naive": lambda: naive(spec)}, args.naive_repeats)["naive"]
        rows.append((name, times["ours"], times["old"], naive_ms))

    print(f"| model | ours median ms ({args.repeats} runs) | old torchinfo path median ms | speed-up "
          f"| naive median ms ({args.naive_repeats} runs) | ratio | ours / old median CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (ours_ms, ours_cpu), (old_ms, old_cpu), naive_ms in rows:
        print(f"| {name} | {ours_ms:.1f} | {old_ms:.1f} | {old_ms / ours_ms:.1f}x | {naive_ms:.1f} "
              f"| {naive_ms / ours_ms:.0f}x | {ours_cpu:.1f} / {old_cpu:.1f} |")
    print()
    print(f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, Python {platform.python_version()}"
          + (f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""))

    by_name = {name: (ours[0], naive_ms) for name, ours, _, naive_ms in rows}
    vgg_ours, vgg_naive = by_name["vgg16"]
    met = vgg_ours <= GOAL_MS and vgg_naive / vgg_ours >= GOAL_RATIO
    print(f"Goal (VGG-16 <= {GOAL_MS:g} ms and >= {GOAL_RATIO:g}x faster than naive): {'met' if met else 'MISSED'}")
    google_met = by_name["googlenet"][0] <= GOAL_GOOGLENET_MS
    print(f"Goal (GoogLeNet <= {GOAL_GOOGLENET_MS:g} ms): {'met' if google_met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
