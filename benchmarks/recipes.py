"""Does the short recipe learn for every preset? Trains each one on the built-in ``shapes`` for a fixed budget.

Each preset is the real network (full width), at the short recipe's input size for the device (on a CPU the
smallest size it accepts, at least 32), with the short recipe's optimizer, warm-up, clipping, init and precision,
built by the same :func:`explorer.training.recipes.config_from_choices` as the CLI and the Train tab. Only the
budget is fixed here: ``--steps`` optimizer steps on ``steps x batch`` training images, then the test accuracy on
``--test-subset`` unseen images. Chance is 0.10; "above chance" means at least 0.15 (on 500 test images the
accuracy of a guesser has a standard deviation of 0.013, so 0.15 is ~4 of them above it).

    .venv/bin/python benchmarks/recipes.py                       # every preset, 60 steps each
    .venv/bin/python benchmarks/recipes.py --steps 30 vgg16 nin_cifar

Prints one Markdown row per preset as it finishes (params, input px, steps, seconds, final running loss, test
accuracy, above chance), then the machine.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import load_preset, preset_names  # noqa: E402
from explorer.training.events import DoneEvent, ErrorEvent, StartEvent  # noqa: E402
from explorer.training.engine import train  # noqa: E402
from explorer.training.recipes import config_from_choices  # noqa: E402

ABOVE_CHANCE = 0.15


def run_preset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one preset with the short recipe for ``args.steps`` steps; the table row's values."""
    spec = load_preset(name)
    config = config_from_choices(spec, recipe="short", dataset=args.dataset, device=args.device,
                                 max_steps=args.steps, seed=args.seed, save_checkpoint=False, num_samples=0,
                                 log_every=10**6, test_subset=args.test_subset)
    config = config.replace(train_subset=args.steps * config.batch_size)
    row: dict[str, Any] = {"preset": name, "params": spec.planned_params(), "px": config.input_size or spec.input_size,
                           "steps": 0, "seconds": math.nan, "loss": math.nan, "test_acc": math.nan, "error": ""}
    started = time.perf_counter()
    for event in train(spec, config):
        if isinstance(event, StartEvent):
            row["params"] = event.total_params
            row["px"] = event.input_shape[-1]
        elif isinstance(event, DoneEvent):
            row.update(steps=event.steps, loss=event.train_loss, test_acc=event.test_acc)
        elif isinstance(event, ErrorEvent):
            row.update(steps=event.step, error=event.message)
    row["seconds"] = time.perf_counter() - started
    row["config"] = (f"adam lr {config.lr:g}, warm-up {config.warmup_steps}, clip {config.grad_clip}, "
                     f"{config.precision}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="default: every preset")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--test-subset", type=int, default=500)
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = args.presets or preset_names()
    print("| preset | params | input px | steps | seconds | final loss | test acc | above chance | recipe |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|", flush=True)
    failures = 0
    for name in names:
        row = run_preset(name, args)
        above = not row["error"] and row["test_acc"] >= ABOVE_CHANCE
        failures += not above
        verdict = "yes" if above else ("no: " + row["error"] if row["error"] else "no")
        print(f"| {name} | {row['params']:,} | {row['px']} | {row['steps']} | {row['seconds']:.0f} | "
              f"{row['loss']:.3f} | {row['test_acc']:.3f} | {verdict} | {row['config']} |", flush=True)
    print(f"\n{len(names) - failures}/{len(names)} above chance. torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {torch.get_num_threads()} threads, load average "
          f"{', '.join(f'{load:.1f}' for load in os.getloadavg())}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
