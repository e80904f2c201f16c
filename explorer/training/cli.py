"""``python -m explorer train NAME_OR_JSON ...``: a training run on the command line.

Without ``--json`` it prints a readable line per epoch; with ``--json`` one JSON object per event and line, the
last one ``{"event": "done", "test_acc": ...}`` (or ``{"event": "error", ...}``). Under
``torchrun --nproc_per_node N -m explorer train ...`` the same command trains with DistributedDataParallel;
only rank 0 prints and saves the checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

import torch

from ..cli import load_spec_argument
from . import distributed
from .config import DATASET_NAMES, DEVICES, INITS, OPTIMIZERS, PRECISIONS, TrainConfig
from .engine import train
from .events import DoneEvent, EpochEvent, ErrorEvent, StartEvent, TrainEvent
from .recipes import recipe_from_choices

#: Flags that override the recipe, mapped to TrainConfig fields.
_OVERRIDES = {
    "data_dir": "data_dir", "epochs": "epochs", "batch_size": "batch_size", "optimizer": "optimizer", "lr": "lr",
    "input_size": "input_size", "max_steps": "max_steps", "precision": "precision",
    "channels_last": "channels_last", "device": "device", "seed": "seed", "train_subset": "train_subset",
    "test_subset": "test_subset", "checkpoint_dir": "checkpoint_dir", "init": "init", "augment": "augment",
    "compile": "compile", "tta_flip": "tta_flip", "weight_decay": "weight_decay", "log_every": "log_every",
    "download": "download", "save_checkpoint": "save_checkpoint",
    "warmup_steps": "warmup_steps", "grad_clip": "grad_clip",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the explorer's CLI."""
    parser = subparsers.add_parser(
        "train", help="train a network on a small dataset (Fashion-MNIST, MNIST, CIFAR-10 or the built-in shapes)",
        description="Train a preset or a JSON spec. The short recipe (default) is Adam lr 1e-3 for 2 epochs, which "
                    "learns in a short run; --recipe published uses the d2l recipe (plain SGD, 10 epochs). Flags "
                    "override the recipe. Runs under torchrun with DistributedDataParallel.")
    parser.add_argument("spec", help="a preset name, a JSON spec file, or inline JSON")
    parser.add_argument("--dataset", choices=DATASET_NAMES, default=None,
                        help="default: fashion-mnist (shapes is built in and needs no download)")
    parser.add_argument("--data-dir", default=None,
                        help="folder in torchvision's layout "
                             "(default: $EXPLORER_DATA_DIR or ~/.cache/cnn-explorer/data)")
    parser.add_argument("--no-download", dest="download", action="store_false", default=None,
                        help="never download; fail with a message if the files are missing")
    parser.add_argument("--recipe", choices=("short", "published"), default="short")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="linear learning-rate warm-up over this many steps (0: none)")
    parser.add_argument("--grad-clip", type=float, default=None, help="clip the gradients' total norm to this")
    parser.add_argument("--input-size", type=int, default=None, help="resize images to this (default: the recipe's)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--precision", choices=PRECISIONS, default=None)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="random crop with padding, and flips where the dataset allows")
    parser.add_argument("--tta-flip", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--init", choices=INITS, default=None)
    parser.add_argument("--device", choices=DEVICES, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--train-subset", type=int, default=None, help="train on this many examples")
    parser.add_argument("--test-subset", type=int, default=None, help="evaluate on this many examples")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--no-checkpoint", dest="save_checkpoint", action="store_false", default=None)
    parser.add_argument("--log-every", type=int, default=None, help="a step event every N steps (default 10)")
    parser.add_argument("--json", action="store_true", help="one JSON object per event and line")
    parser.set_defaults(func=cmd_train)


def config_from_args(args: argparse.Namespace) -> tuple[Any, TrainConfig, str]:
    """The spec, the config (recipe plus flags, through the same :func:`recipe_from_choices` as the Train tab)
    and the recipe's one-line summary."""
    spec = load_spec_argument(args.spec)
    overrides = {field: getattr(args, flag) for flag, field in _OVERRIDES.items() if flag != "device"}
    recipe = recipe_from_choices(spec, recipe=args.recipe, dataset=args.dataset, device=args.device, **overrides)
    return spec, recipe.config, recipe.summary


def cmd_train(args: argparse.Namespace) -> int:
    spec, config, _summary = config_from_args(args)
    context = distributed.init_from_env(config.device)
    if context.enabled and config.device != "cuda" and not torch.cuda.is_available():
        # Processes share the cores: one thread pool per process, sized to its share.
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", context.world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local_world, 1)))
    out = sys.stdout if context.is_main else None
    events = train(spec, config)
    status = 0
    try:
        if out is not None and not args.json:
            print(f"{args.recipe} recipe: {describe_config(config)}", file=out, flush=True)
        for event in events:
            if isinstance(event, ErrorEvent):
                status = 1
            if out is not None:
                print_event(event, out, as_json=args.json)
    except KeyboardInterrupt:
        events.close()  # frees the run's memory before saying so
        if out is not None:
            print("stopped: interrupted; no checkpoint was written", file=sys.stderr, flush=True)
        status = 130
    finally:
        events.close()
        distributed.shutdown()
    return status


def describe_config(config: TrainConfig) -> str:
    """The settings that shape a run, in one line."""
    size = f", input {config.input_size}" if config.input_size else ""
    guards = (f"{f', warm-up {config.warmup_steps} steps' if config.warmup_steps else ''}"
              f"{f', gradients clipped to norm {config.grad_clip:g}' if config.grad_clip is not None else ''}")
    return (f"{config.optimizer} lr {config.lr:g}{guards}, batch {config.batch_size}, {config.epochs} epoch(s), "
            f"{config.init} init, precision {config.precision}{size}"
            f"{f', at most {config.max_steps} steps' if config.max_steps else ''}")


def print_event(event: TrainEvent, out: TextIO, *, as_json: bool) -> None:
    """Print an event as a JSON line, or (for start, epoch, done and error) as a readable line."""
    if as_json:
        data = event.to_dict(include_images=False) if isinstance(event, DoneEvent) else event.to_dict()
        print(json.dumps(_finite(data), separators=(",", ":")), file=out, flush=True)
        return
    line = format_event(event)
    if line:
        print(line, file=out if not isinstance(event, ErrorEvent) else sys.stderr, flush=True)


def format_event(event: TrainEvent) -> str | None:
    """A readable line for the events a person wants to see; None for the others."""
    if isinstance(event, StartEvent):
        shape = "x".join(str(size) for size in event.input_shape)
        notes = "".join(f"\n  note: {note}" for note in event.notes)
        return (f"training {event.family} ({event.total_params:,} parameters) on {event.dataset}: "
                f"{event.num_train:,} train / {event.num_test:,} test images at {shape}, {event.epochs} epoch(s), "
                f"{event.total_steps} steps, {event.device} {event.precision}"
                f"{' channels_last' if event.channels_last else ''}"
                f"{f', {event.world_size} processes' if event.world_size > 1 else ''}{notes}")
    if isinstance(event, EpochEvent):
        test = "n/a" if event.test_acc is None else f"{event.test_acc:.3f}"
        return (f"epoch {event.epoch}/{event.epochs}  loss {event.train_loss:.3f}  train acc {event.train_acc:.3f}  "
                f"test acc {test}  {event.examples_per_s:,.0f} examples/s  elapsed {_clock(event.elapsed_s)}  "
                f"eta {_clock(event.eta_s)}")
    if isinstance(event, DoneEvent):
        memory = ("n/a" if event.peak_memory_bytes is None
                  else f"{event.peak_memory_bytes / 2**20:,.0f} MiB ({event.peak_memory_kind})")
        where = event.checkpoint_path or "not saved"
        return (f"done: test acc {event.test_acc:.4f} after {event.steps} steps ({event.train_seconds:.1f} s "
                f"training, {event.examples_per_s:,.0f} examples/s); peak memory {memory}, estimate "
                f"{event.estimated_memory_bytes / 2**20:,.0f} MiB; checkpoint: {where}")
    if isinstance(event, ErrorEvent):
        return f"error: {event.message}"
    return None


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: not known yet
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _finite(value: Any) -> Any:
    """NaN and infinities become None, so every line is strict JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
